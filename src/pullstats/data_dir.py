"""Where everything lives inside the data dir, in one place."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import socket
from dataclasses import dataclass
from datetime import date
from pathlib import Path

#: What a node name may be: it is shown in logs and `pullstats status`, and stored in the catalog.
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class DataDirUnusable(RuntimeError):
    """The data dir cannot be one: it is a file (or under one), or on a read-only file
    system for a command that writes; the message is one line naming PULLSTATS_DATA_DIR."""


#: What a message about a data dir that is a file tells the operator to do.
_SET_IT = (
    "set PULLSTATS_DATA_DIR to the installation's data dir, or to a path where a new one may "
    "be made"
)

#: Names pullstats makes at the top of a data dir: one of them there means an installation
_MADE_HERE = frozenset(
    {
        "catalog.sqlite3",
        "lake",
        "spool",
        "exports",
        "tmp",
        "keys",
        "cache",
        "logs",
        "node-name",
        "jobs.lock",
    }
)


@dataclass(frozen=True)
class DataDir:
    """The folders and files of one data dir; creating them is :meth:`ensure`'s job."""

    root: Path
    #: ``PULLSTATS_KEYS_DIR`` when set (shared by every node), else ``keys/`` in the data dir
    keys_dir: Path | None = None
    #: whether the lake is the data dir's ``lake/`` (``PULLSTATS_LAKE_URL`` unset), and the
    #: exports its ``exports/`` (``PULLSTATS_EXPORTS_URL`` unset): :meth:`ensure` makes those
    #: folders only then, so that a data dir whose stores are elsewhere (on S3) shows none
    lake_here: bool = True
    exports_here: bool = True

    @property
    def sqlite_catalog(self) -> Path:
        """The embedded catalog: the catalog when ``PULLSTATS_DATABASE_URL`` is not set."""
        return self.root / "catalog.sqlite3"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def requests(self) -> Path:
        return self.root / "lake" / "requests"

    @property
    def actions(self) -> Path:
        return self.root / "lake" / "actions"

    @property
    def imported(self) -> Path:
        """Actions imported from Docker Hub raw CSVs: ``day=D/part-<id>.parquet`` (the
        import's id: :mod:`pullstats.importers.import_records`)."""
        return self.root / "lake" / "imported"

    @property
    def imported_summaries(self) -> Path:
        """Imported summary rows: ``<week|month>/<period start>/part-<id>.parquet``."""
        return self.root / "lake" / "imported-summaries"

    @property
    def imported_files(self) -> Path:
        """One ``<id>.json`` per import of a file, written last: its presence means done."""
        return self.root / "lake" / "imported-files"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def job_tmp(self) -> Path:
        """Where jobs stage files before publishing them. Only a job holding the job lock
        writes here, so what the folder holds when a job takes the lock was left by one that
        was killed: :func:`pullstats.lake.jobs.job_lock` empties it."""
        return self.tmp / "job"

    @property
    def cache(self) -> Path:
        """What is built from installed packages' data and kept between commands (the
        enrichment's address tables): any file here may be deleted."""
        return self.root / "cache"

    @property
    def spark_log(self) -> Path:
        """What the JVM of a Spark run writes (``spark_log``): kept, rotated at 10 MiB."""
        return self.root / "logs" / "spark.log"

    @property
    def keys(self) -> Path:
        return self.keys_dir if self.keys_dir is not None else self.root / "keys"

    @property
    def keys_named(self) -> str:
        """The keys dir as a message names it: by its setting only where that is set."""
        if self.keys_dir is not None:
            return f"PULLSTATS_KEYS_DIR={self.keys_dir}"
        return f"the keys dir {self.keys} (the data dir's: PULLSTATS_KEYS_DIR is not set)"

    @property
    def node_file(self) -> Path:
        """The node's default name, made on first use (``PULLSTATS_NODE_NAME`` overrides it)."""
        return self.root / "node-name"

    @property
    def job_lock(self) -> Path:
        return self.root / "jobs.lock"

    def requests_day(self, day: date) -> Path:
        return self.requests / f"day={day.isoformat()}"

    def actions_day(self, day: date) -> Path:
        return self.actions / f"day={day.isoformat()}"

    def imported_day(self, day: date) -> Path:
        return self.imported / f"day={day.isoformat()}"

    def ensure(self) -> DataDir:
        """Create the folders (and the data dir) that are missing; :class:`DataDirUnusable`
        when the data dir is a file, is under one, or is on a read-only file system."""
        try:
            self.make_root()
            for folder in (self.spool, self.tmp, *self._stores_here()):
                folder.mkdir(parents=True, exist_ok=True)
            if self.keys_dir is None:  # a configured keys dir is the operator's: left as it is
                self.keys.mkdir(parents=True, exist_ok=True)
                os.chmod(self.keys, 0o700)
            self._check_locks()
        except OSError as error:
            problem = self.not_a_folder()
            if problem is None and error.errno == errno.EROFS:
                problem = (
                    f"PULLSTATS_DATA_DIR={self.root} is on a read-only file system: this "
                    "command writes to it; mount it read-write"
                )
            if problem is None:
                raise
            raise DataDirUnusable(problem) from error
        return self

    def _check_locks(self) -> None:
        """:class:`DataDirUnusable` when the spool's file system takes no ``flock`` (NFS without
        its lock manager answers ``ENOLCK``): a segment is its writer's by its lock
        (lake/spool.py), and without one a server would start and refuse every delivery."""
        probe = self.spool / f".lock-probe-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            raise DataDirUnusable(
                f"PULLSTATS_DATA_DIR={self.root}: its spool folder {self.spool} takes no file "
                f"locks (flock: {error.strerror or error}): keep the data dir on a local file "
                "system (docs/operations.md, The spool)"
            ) from None
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)

    def _stores_here(self) -> list[Path]:
        """The folders of the stores kept in the data dir. Nothing needs them before it writes
        there (a store makes a file's folders as it publishes it): made for an operator who
        looks, an empty local lake where one is used."""
        folders = [self.requests, self.actions] if self.lake_here else []
        return [*folders, self.exports] if self.exports_here else folders

    def foreign_entries(self) -> list[str]:
        """The names in an existing data dir that holds no installation yet, none of them made
        by pullstats (a mount point's ``lost+found`` aside); empty for a new folder or an
        installation."""
        try:
            names = {entry.name for entry in self.root.iterdir()}
        except OSError:  # none yet, a file, unreadable: ensure() says what is wrong
            return []
        if names & _MADE_HERE:
            return []
        return sorted(names - {"lost+found"})

    def not_a_folder(self) -> str | None:
        """What is wrong when the data dir is a file, or a file stands where one of the folders
        above it would be; None when neither."""
        for path in (self.root, *self.root.parents):
            if path.is_dir():
                return None
            if path.exists() or path.is_symlink():  # a file, or a link to nothing
                if path == self.root:
                    return f"PULLSTATS_DATA_DIR={self.root} is a file, not a folder: {_SET_IT}"
                return (
                    f"PULLSTATS_DATA_DIR={self.root} cannot be made: {path} is a file, not a "
                    f"folder; {_SET_IT}"
                )
        return None

    def make_root(self) -> None:
        """Create the data dir, if missing, as its owner's alone (0700, whatever the umask): it
        holds the catalog, the keys and the spool's raw client addresses. An existing one is
        the operator's (a mount point, a shared folder): its mode is left as it is."""
        if self.root.is_dir():
            return
        self.root.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.root.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process
            return
        os.chmod(self.root, 0o700)  # whatever the umask

    def node_name(self) -> str:
        """This data dir's node name: the host name plus four random hex digits, made once.

        Kept in the data dir, beside the spool it names, so it survives restarts and a new
        host name; the random part keeps two data dirs on one host apart.
        """
        known = self.known_node_name()
        if known is not None:
            return known
        host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname().split(".")[0]).strip("-._")
        name = f"{host[:40] or 'node'}-{secrets.token_hex(2)}"
        self.make_root()
        tmp = self.root / f".node-name.{os.getpid()}.tmp"
        tmp.write_text(name + "\n")
        try:
            os.link(tmp, self.node_file)  # two processes starting at once agree on one name
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return self.node_name()

    def known_node_name(self) -> str | None:
        """The name kept in the data dir, if one was made; a damaged file is refused."""
        try:
            name = self.node_file.read_text().strip()
        except FileNotFoundError:
            return None
        if not NODE_NAME.fullmatch(name):
            raise ValueError(
                f"{self.node_file} holds no node name: delete it (a new one is made) or set "
                "PULLSTATS_NODE_NAME"
            )
        return name

    def secret_key(self, name: str, nbytes: int = 32) -> bytes:
        """A key generated into the keys dir on first use and read back ever after.

        Written with a temporary name and linked into place, so two processes starting at once
        agree on a single key.
        """
        path = self.keys / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        self.ensure()
        tmp = self.keys / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(nbytes))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process won the race; theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_bytes()
