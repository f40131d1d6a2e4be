"""``pullstats demo`` fills a folder of its own: a new or empty one, or one an earlier demo
run marked; a folder holding anything else (a real installation given as ``--data-dir``) is
refused before a demo user with the published password could be created in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullstats.demo.seed import MARKER, OWNER, NotADemoDir, claim_data_dir
from tests.conftest import free_port, run_cli
from tests.test_cli_serving import run_demo


def test_a_new_or_empty_folder_becomes_the_demos(tmp_path: Path) -> None:
    new = tmp_path / "new" / "demo"
    claim_data_dir(new)
    assert [p.name for p in new.iterdir()] == [OWNER]
    # made the owner's alone, as every data dir (it holds the spool's raw client addresses)
    assert new.stat().st_mode & 0o777 == 0o700
    empty = tmp_path / "empty"
    empty.mkdir()
    claim_data_dir(empty)
    assert [p.name for p in empty.iterdir()] == [OWNER]
    claim_data_dir(empty)  # the next run: its own folder
    assert [p.name for p in empty.iterdir()] == [OWNER]


def test_an_earlier_demos_folder_is_taken_as_it_is(tmp_path: Path) -> None:
    # a demo dir seeded before the mark existed has the seeding's record only
    older = tmp_path / "older"
    older.mkdir()
    (older / MARKER).write_text("{}")
    (older / "catalog.sqlite3").write_bytes(b"")
    claim_data_dir(older)
    assert sorted(p.name for p in older.iterdir()) == ["catalog.sqlite3", MARKER]


def test_a_folder_holding_anything_else_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "srv"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(NotADemoDir, match=r"holds files that are not a pullstats demo's"):
        claim_data_dir(other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(NotADemoDir, match="not a folder"):
        claim_data_dir(a_file)


def test_the_demo_refuses_a_real_installations_data_dir(tmp_path: Path) -> None:
    real = tmp_path / "installation"
    # a namespace the demo does not make, so nothing but the folder tells them apart
    assert run_cli(real, "namespaces", "add", "umbrella").returncode == 0
    before = {p: p.read_bytes() for p in real.rglob("*") if p.is_file()}
    result = run_demo(tmp_path, "--data-dir", str(real), "--port", str(free_port()))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: --data-dir {real}: holds files that are not a pullstats demo's (an "
        "installation?); the demo, whose user's password is public, fills a new or empty "
        "folder of its own"
    )
    assert {p: p.read_bytes() for p in real.rglob("*") if p.is_file()} == before
    users = run_cli(real, "users", "list")
    assert users.returncode == 0 and "demo" not in users.stdout


def test_an_empty_data_dir_option_is_refused_not_the_current_folder(tmp_path: Path) -> None:
    # before: "" became ".", and the demo filled the folder it was started in
    result = run_demo(tmp_path, "--data-dir", "", "--port", str(free_port()))
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "error: --data-dir: empty: name a folder, or leave the option out for the default",
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == []
