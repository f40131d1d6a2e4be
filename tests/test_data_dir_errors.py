"""A data dir that cannot be one — a file, or on a read-only file system — is one line naming
PULLSTATS_DATA_DIR and what is wrong, not an OS error about one of its folders."""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pullstats.runtime import NoInstallation, Runtime
from tests.conftest import catalog_settings, catalog_url, cli_env, run_cli

IS_A_FILE = (
    "is a file, not a folder: set PULLSTATS_DATA_DIR to the installation's data dir, or to a "
    "path where a new one may be made"
)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_data_dir_that_is_a_file_is_named_so_by_every_command(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a data dir")
    expected = f"error: PULLSTATS_DATA_DIR={afile} {IS_A_FILE}"
    # `status` creates nothing; `db upgrade` was its advice, and then failed on "spool"
    for args in (("status",), ("db", "upgrade"), ("users", "add", "al"), ("users", "list")):
        assert one_error_line(run_cli(afile, *args)) == expected, args
    assert afile.read_text() == "not a data dir"


def test_a_data_dir_under_a_file_names_the_file(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    data_dir = afile / "data"
    assert one_error_line(run_cli(data_dir, "db", "upgrade")) == (
        f"error: PULLSTATS_DATA_DIR={data_dir} cannot be made: {afile} is a file, not a folder; "
        "set PULLSTATS_DATA_DIR to the installation's data dir, or to a path where a new one "
        "may be made"
    )


def read_only(
    data_dir: Path, *args: str, folder: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pullstats ARGS`` with ``folder`` (the data dir unless given) mounted read-only for it
    alone (a mount namespace of its own, as an unprivileged user may make)."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    command = [sys.executable, "-m", "pullstats", *args]
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(folder or data_dir), *command],
        env=cli_env(data_dir, env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_read_only_data_dir_is_named_so_by_a_command_that_writes(data_dir: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1): cannot mount a read-only data dir")
    data_dir.mkdir()
    probe = read_only(data_dir, "--version")
    if probe.returncode != 0:
        pytest.skip(f"no read-only mount without privileges here: {probe.stderr.strip()}")
    assert run_cli(data_dir, "db", "upgrade").returncode == 0
    for args in (("users", "add", "al"), ("db", "upgrade"), ("namespaces", "add", "acme")):
        assert one_error_line(read_only(data_dir, *args)) == (
            f"error: PULLSTATS_DATA_DIR={data_dir} is on a read-only file system: this "
            "command writes to it; mount it read-write"
        ), args
    if catalog_url(data_dir) is not None:  # a PostgreSQL catalog (CI's run): reading works
        assert read_only(data_dir, "users", "list").returncode == 0
        return
    # a command that only reads: SQLite's WAL cannot open the catalog read-only either
    assert one_error_line(read_only(data_dir, "users", "list")) == (
        f"error: PULLSTATS_DATA_DIR={data_dir} is on a read-only file system: its SQLite "
        "catalog cannot be opened there, even to read (WAL writes beside it); mount it "
        "read-write"
    )


@pytest.mark.parametrize("setting", ["PULLSTATS_EXPORTS_URL", "PULLSTATS_LAKE_URL"])
def test_a_new_store_that_cannot_be_written_leaves_the_next_place_free(
    data_dir: Path, tmp_path: Path, setting: str
) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1): cannot mount a read-only folder")
    mount = tmp_path / "mount"
    mount.mkdir()
    probe = read_only(data_dir, "--version", folder=mount)
    if probe.returncode != 0:
        pytest.skip(f"no read-only mount without privileges here: {probe.stderr.strip()}")
    refused = read_only(
        data_dir, "namespaces", "add", "acme", folder=mount, env={setting: str(mount / "store")}
    )
    assert refused.returncode == 1 and "Read-only file system" in refused.stderr
    # the first open recorded the store's id, then could not write it: before, every later
    # command refused every place as not the installation's store, this writable one too
    elsewhere = tmp_path / "writable"
    made = run_cli(data_dir, "namespaces", "add", "acme", env={setting: str(elsewhere)})
    assert made.returncode == 0, made.stderr
    assert run_cli(data_dir, "status", env={setting: str(elsewhere)}).returncode == 0
    (description,) = [p for p in elsewhere.iterdir() if p.suffix == ".json"]
    assert description.name in ("_exports.json", "_meta.json")


def test_a_new_installation_beside_other_files_is_noted(data_dir: Path) -> None:
    """A PULLSTATS_DATA_DIR that names a home folder by mistake became an installation there
    without a word; it is not refused (an operator may have put a GeoIP database there
    first), but the command says what else the folder held."""
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine\n")
    (data_dir / "projects").mkdir()
    (data_dir / "lost+found").mkdir()  # a mount point's: no sign of a wrong folder
    made = run_cli(data_dir, "db", "upgrade")
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines() == [
        f"note: PULLSTATS_DATA_DIR={data_dir} held 2 entries of something else (notes.txt, "
        "projects) and no installation: the new one is made beside them; if that is not the "
        "folder you meant, set PULLSTATS_DATA_DIR and run this again"
    ]
    assert (data_dir / "notes.txt").read_text() == "mine\n"
    # once it is an installation, the other files are its operator's business
    again = run_cli(data_dir, "db", "upgrade")
    assert again.returncode == 0 and again.stderr == ""


def test_a_new_installation_in_a_new_or_empty_folder_says_nothing_more(
    data_dir: Path, tmp_path: Path
) -> None:
    made = run_cli(data_dir, "db", "upgrade")
    assert made.returncode == 0 and made.stderr == ""
    (tmp_path / "empty" / "lost+found").mkdir(parents=True)
    empty = run_cli(tmp_path / "empty", "db", "upgrade")
    assert empty.returncode == 0 and empty.stderr == ""


def without_overrides(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pullstats ARGS`` run by root without the capabilities that let root past a file's
    mode (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): as a user who does not own the data dir."""
    return subprocess.run(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            *(sys.executable, "-m", "pullstats", *args),
        ],
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_data_dir_of_another_user_names_its_owner_and_who_runs_the_command(
    data_dir: Path,
) -> None:
    """A data dir made by the service's user and used by root (or the reverse) was a bare
    ``spool: Permission denied``, with no word of whose the folder is."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to run a command as a user who may not write")
    data_dir.mkdir()
    os.chown(data_dir, 65534, 65534)
    data_dir.chmod(0o700)
    try:
        shown = pwd.getpwuid(65534).pw_name  # "nobody" on Debian
    except KeyError:
        shown = "uid 65534"
    for args, denied in (
        (("db", "upgrade"), data_dir / "spool"),
        (("process",), data_dir / "spool"),
    ):
        assert one_error_line(without_overrides(data_dir, *args)) == (
            f"error: {denied}: Permission denied: {data_dir} belongs to {shown} (mode 0700) "
            f"and this command runs as root: run it as {shown} (sudo -u {shown} pullstats …)"
        ), args
    # its own, with a mode that forbids writing: the mode is named
    data_dir.chmod(0o500)
    os.chown(data_dir, 0, 0)
    assert one_error_line(without_overrides(data_dir, "db", "upgrade")) == (
        f"error: {data_dir / 'spool'}: Permission denied: {data_dir} is root's, mode 0500: its "
        "mode forbids this"
    )
    data_dir.chmod(0o700)  # for tmp_path's clean-up


def test_a_spool_on_a_file_system_without_locks_is_named_at_the_start(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spool segment is its writer's by an ``flock`` (lake/spool.py). On a file system that
    takes none (NFS without its lock manager answers ``ENOLCK``) a server started, and then
    refused every delivery with a 503; now every command that writes stops at its start with
    one line naming the data dir and what to do. There is no such file system here: ``flock``
    answers as NFS's does, and only for the spool's folder."""
    real_flock = fcntl.flock

    def nfs_flock(fd: int, operation: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).parent.name == "spool":
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", nfs_flock)
    with pytest.raises(NoInstallation) as refused:
        Runtime.open(catalog_settings(data_dir))
    assert str(refused.value) == (
        f"PULLSTATS_DATA_DIR={data_dir}: its spool folder {data_dir / 'spool'} takes no file "
        "locks (flock: No locks available): keep the data dir on a local file system "
        "(docs/operations.md, The spool)"
    )
    assert os.listdir(data_dir / "spool") == []  # the probe is gone
    monkeypatch.setattr(fcntl, "flock", real_flock)
    Runtime.open(catalog_settings(data_dir)).close()  # a file system with locks: it opens
