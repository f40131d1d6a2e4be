"""User-agent parsers against the golden fixtures of real agents, in any registration order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pullstats.enrich.user_agent import PARSERS, parse_user_agent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "user_agents"
_CASE_KEYS = {"ua", "result", "source"}
_RESULT_KEYS = {"tool", "version"}


@dataclass(frozen=True)
class Case:
    file: str
    ua: str
    tool: str
    version: str


def load_cases(path: Path) -> list[Case]:
    """One fixture file; an unknown or missing key is an error, so a typo cannot pass silently."""
    cases = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
        if set(entry) - {"source"} != _CASE_KEYS - {"source"} or not set(entry) <= _CASE_KEYS:
            raise ValueError(f"{path.name}: keys {sorted(entry)}, expected {sorted(_CASE_KEYS)}")
        result = entry["result"]
        if set(result) != _RESULT_KEYS:
            raise ValueError(f"{path.name}: result keys {sorted(result)}")
        cases.append(Case(path.name, str(entry["ua"]), result["tool"], str(result["version"])))
    return cases


CASES = [case for path in sorted(FIXTURES.glob("*.yaml")) for case in load_cases(path)]


def test_every_parser_has_fixtures() -> None:
    tools = {case.tool for case in CASES}
    for parser in PARSERS:
        claimed = [case for case in CASES if parser.pattern.match(case.ua)]
        assert claimed, f"parser {parser.name} has no fixture"
        assert {case.tool for case in claimed} <= tools


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.file}:{case.ua[:40]}")
def test_golden(case: Case) -> None:
    assert parse_user_agent(case.ua) == (case.tool, case.version)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.file}:{case.ua[:40]}")
def test_at_most_one_parser_claims_an_agent(case: Case) -> None:
    claimants = [parser.name for parser in PARSERS if parser.pattern.match(case.ua)]
    assert len(claimants) <= 1, claimants


@pytest.mark.parametrize("seed", range(20))
def test_registration_order_does_not_matter(seed: int) -> None:
    shuffled = list(PARSERS)
    random.Random(seed).shuffle(shuffled)
    for case in CASES:
        assert parse_user_agent(case.ua, shuffled) == (case.tool, case.version), case


def test_loader_rejects_unknown_keys(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("- ua: curl/8.5.0\n  reslut: {tool: curl, version: 8.5.0}\n")
    with pytest.raises(ValueError, match="keys"):
        load_cases(typo)
    bad_result = tmp_path / "bad.yaml"
    bad_result.write_text("- ua: curl/8.5.0\n  result: {tool: curl, versoin: 8.5.0}\n")
    with pytest.raises(ValueError, match="result keys"):
        load_cases(bad_result)


def test_none_is_unknown() -> None:
    assert parse_user_agent(None) == ("", "")


@given(st.text())
def test_any_text_gives_two_strings(text: str) -> None:
    tool, version = parse_user_agent(text)
    assert isinstance(tool, str)
    assert isinstance(version, str)
    assert tool or not version  # a version never comes without its tool


@given(st.sampled_from(CASES), st.text(max_size=40))
def test_trailing_text_never_changes_the_tool(case: Case, suffix: str) -> None:
    # real agents grow extra tokens over releases; the tool must not depend on them
    if case.tool and case.file not in {"go-http-client.yaml", "harbor.yaml"}:
        assert parse_user_agent(case.ua + " " + suffix)[0] == case.tool
