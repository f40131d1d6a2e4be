"""The docs are checked against the code: settings, routes, commands, links and the README.

Every setting is documented in docs/operations.md, every served route in docs/api.md, every
command in docs/operations.md; docs/cli.md is the generated reference itself; relative links
resolve; and the README's two CI commands are exactly the ones CI runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from pullstats.api.app import create_app
from pullstats.cli import reference
from pullstats.config import Settings
from tests.test_repository_paths import OUTSIDE_DOCUMENTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
#: Folders of the working tree that hold no page of the project (tools' and data dirs).
_NOT_OURS = {
    "node_modules", "venv", "env", "build", "dist", "__pycache__", "pullstats-data",
    "pullstats-demo-data",
}  # fmt: skip


def _markdown_pages() -> list[Path]:
    """Every Markdown page of the repository (README, docs/, benchmarks/, CONTRIBUTING.md, …),
    without walking into virtualenvs, caches or data dirs."""
    pages = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [
            name
            for name in subfolders
            if not name.startswith(".") and name not in _NOT_OURS and not name.endswith("-info")
        ]
        pages.extend(Path(folder) / name for name in names if name.endswith(".md"))
    return sorted(pages)


ALL_MARKDOWN = _markdown_pages()

#: Served by FastAPI itself, not by a pullstats router.
FRAMEWORK_ROUTES = {"/openapi.json", "/docs"}

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """Markdown without code blocks and inline code, where a ``[x](y)`` is not a link."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _relative_links(text: str) -> list[str]:
    prose = _prose(text)
    targets = _LINK.findall(prose) + _REFERENCE_LINK.findall(prose)
    return [t for t in targets if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^#|^//", t)]


def test_every_setting_is_in_the_operator_guide() -> None:
    guide = _read(DOCS / "operations.md")
    missing = [
        f"PULLSTATS_{name.upper()}"
        for name in Settings.model_fields
        if f"`PULLSTATS_{name.upper()}`" not in guide
    ]
    assert not missing, f"settings missing from docs/operations.md: {missing}"


def test_every_served_route_is_in_the_api_notes() -> None:
    notes = _read(DOCS / "api.md")
    paths = set(create_app().openapi()["paths"]) - FRAMEWORK_ROUTES
    assert paths, "the app serves no routes?"
    missing = sorted(path for path in paths if path not in notes)
    assert not missing, f"routes missing from docs/api.md: {missing}"


def test_cli_reference_is_generated_from_the_commands() -> None:
    fresh = reference.render()
    assert _read(DOCS / "cli.md") == fresh, (
        "docs/cli.md is out of date: run `python -m pullstats.cli.reference > docs/cli.md`"
    )


def test_cli_reference_covers_every_command_once() -> None:
    headings = re.findall(r"^## `(pullstats[^`]*)`$", reference.render(), re.MULTILINE)
    assert headings[0] == "pullstats"
    assert len(headings) == len(set(headings))
    for expected in ("pullstats ingest-tokens revoke", "pullstats import dockerhub-csv"):
        assert expected in headings


def _leaf_commands() -> list[str]:
    """Command paths of the reference that run something (not groups, not the root)."""
    text = reference.render()
    sections = re.split(r"^## `(pullstats[^`]*)`$", text, flags=re.MULTILINE)[1:]
    return [
        path
        for path, body in zip(sections[::2], sections[1::2], strict=True)
        if "\nCommands:\n" not in body and path != "pullstats"
    ]


def test_every_command_is_in_the_operator_guide() -> None:
    guide = _read(DOCS / "operations.md")
    missing = [command for command in _leaf_commands() if command not in guide]
    assert not missing, f"commands missing from docs/operations.md: {missing}"


@pytest.mark.parametrize("page", ALL_MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page: Path) -> None:
    broken = []
    for target in _relative_links(_read(page)):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_link_finder_sees_links_but_not_code() -> None:
    text = "see [a](docs/a.md#x) and [b](https://e.org)\n`[c](nope.md)`\n```\n[d](nope.md)\n```\n"
    assert _relative_links(text) == ["docs/a.md#x"]


def _marked_block(text: str, marker: str) -> str:
    """The body of the fenced block right after ``<!-- ci:MARKER -->`` (what .ci/run runs)."""
    match = re.search(
        rf"^<!-- ci:{marker} -->\n```[a-z]*\n(.*?)^```$", text, re.MULTILINE | re.DOTALL
    )
    assert match, f"no code block after <!-- ci:{marker} --> in README.md"
    return match.group(1)


def test_readme_ci_commands() -> None:
    text = _read(README)
    assert _marked_block(text, "demo") == "pip install -c constraints.txt -e . && pullstats demo\n"
    assert _marked_block(text, "test") == (
        "scripts/system-deps.sh && pip install -c constraints.txt -e '.[test]' && pytest\n"
    )


def test_readme_links_every_docs_page() -> None:
    linked = {
        (README.parent / t.split("#", 1)[0]).resolve() for t in _relative_links(_read(README))
    }
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"


#: A path of this repository named in inline code: `src/pullstats/config.py`, `docs/`, …
_REPO_PATH = re.compile(r"`((?:src|tests|docs|benchmarks|\.ci)/[^`\s*{}<>]*)`")
#: Files that live beside the repository, not in it: a reader of a clone has none of them.


@pytest.mark.parametrize("page", ALL_MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_the_pages_cite_are_in_the_repository(page: Path) -> None:
    text = _read(page)
    missing = [path for path in _REPO_PATH.findall(text) if not (ROOT / path).exists()]
    assert not missing, f"{page.relative_to(ROOT)} cites files that do not exist: {missing}"
    outside = sorted(set(OUTSIDE_DOCUMENTS.findall(text)))
    assert not outside, f"{page.relative_to(ROOT)} cites files outside the repository: {outside}"


def test_every_markdown_page_is_checked() -> None:
    names = {str(path.relative_to(ROOT)) for path in ALL_MARKDOWN}
    assert {"README.md", "docs/api.md", "benchmarks/README.md"} <= names
    assert not any(".venv" in name for name in names)


def test_readme_says_serve_runs_the_job_schedule() -> None:
    text = _read(README)
    assert "no built-in scheduler" not in text
    assert "`pullstats serve` runs the jobs itself" in text
    assert "`PULLSTATS_SCHEDULE_INTERVAL`" in text and "PULLSTATS_SCHEDULE_INTERVAL=0" in text


def test_readme_names_the_demos_own_data_dir() -> None:
    from pullstats.cli.serving import DEMO_DATA_DIR

    text = _read(README)
    assert f"`./{DEMO_DATA_DIR.name}`" in text
    assert f"`{DEMO_DATA_DIR.name}/exports/`" in text
    assert "`pullstats-data/exports/`" not in text  # the demo never writes there
    assert "--allow-remote" in text


def test_readme_shows_a_small_screenshot() -> None:
    images = [t for t in _LINK.findall(_prose(_read(README))) if t.endswith(".png")]
    assert images, "README.md shows no screenshot"
    for image in images:
        data = (ROOT / image).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), image
        assert len(data) < 200_000, f"{image}: keep screenshots small"


def test_the_dashboards_registry_snippet_is_the_operator_guides() -> None:
    """The overview's "No data yet" shows a registry's notifications endpoint: the same one the
    operator guide gives (it lacked the guide's blob filter, so a registry set up from the
    dashboard sent every blob event), but for its URL and token."""
    import yaml

    guide = _read(DOCS / "operations.md")
    given = re.search(r"```yaml\n(notifications:\n.*?)```", guide, re.S)
    template = (ROOT / "src/pullstats/api/dashboard/templates/overview.html").read_text()
    shown = re.search(r'aria-label="config.yml snippet"><code>(.*?)</code>', template, re.S)
    assert given is not None and shown is not None
    (ours,) = yaml.safe_load(shown.group(1).replace("{{ ingest_url }}", "URL"))["notifications"][
        "endpoints"
    ]
    (theirs,) = yaml.safe_load(given.group(1))["notifications"]["endpoints"]
    assert ours.pop("url") == "URL" and theirs.pop("url").startswith("https://")
    assert ours.pop("headers") == {"Authorization": ["Bearer psi_…"]}
    assert theirs.pop("headers")["Authorization"][0].startswith("Bearer psi_")
    assert ours == theirs
