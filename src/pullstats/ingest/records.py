"""The spool record: one manifest request as every source hands it to the lake.

This is the only shape that crosses from stage 0 to stage 1; it is the only place that holds a
raw client address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring

import pyarrow as pa

#: The longest user name a record keeps as it is (characters); a longer one is kept as
#: :func:`user_name` makes it.
USER_CHARS = 256
_LONG_USER = "sha256:"


def user_name(name: str) -> str:
    """The user a record keeps of ``name``: the name, or for one past :data:`USER_CHARS`
    characters ``sha256:`` and the SHA-256 of all of it, so that two long names sharing a
    beginning stay two users (stage 1 hashes it again, with the installation's key)."""
    if len(name) <= USER_CHARS:
        return name
    return _LONG_USER + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def user_name_sql(column: str) -> str:
    """:func:`user_name` in SQL (DuckDB) over the text ``column``: the same value."""
    return (
        f"CASE WHEN length({column}) <= {USER_CHARS} THEN {column} "
        f"ELSE '{_LONG_USER}' || sha256({column}) END"
    )


#: Arrow schema of spool lines, used to parse them in bulk.
SPOOL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("ts", pa.int64()),  # request time, microseconds since the epoch, UTC
        ("method", pa.string()),  # GET or HEAD
        ("name", pa.string()),  # repository name as the registry saw it, e.g. grp/sub/app
        ("tag", pa.string()),  # the tag when the request was by tag, else ""
        ("digest", pa.string()),  # digest requested or returned, "" when unknown
        ("ip", pa.string()),
        ("ua", pa.string()),
        ("src", pa.string()),  # which source produced it: notification, log, ...
        ("recv", pa.int64()),  # arrival time, microseconds since the epoch
        # the registry's authenticated user name, "" for an anonymous request or a source that
        # does not tell (NULL in a line written before it existed): stage 1 keeps only its keyed
        # hash (lake/user_hash.py)
        ("user", pa.string()),
    ]
)

#: What a spool line may hold besides: ``rid``, the registry's own id of the request
#: (Distribution's ``request.id``, which its log repeats), written only when known. Stage 1
#: keeps it apart from the request (``lake/registry-ids/``, :mod:`pullstats.lake.refused`).
SPOOL_LINE_SCHEMA = SPOOL_SCHEMA.append(pa.field("rid", pa.string()))


@dataclass(frozen=True, slots=True)
class PullRequestRecord:
    """A successful GET or HEAD of ``/v2/<name>/manifests/<reference>``."""

    id: str
    ts: int
    method: str
    name: str
    tag: str
    digest: str
    ip: str
    ua: str
    src: str
    recv: int
    #: the registry's id of the request ("" when the source gives none)
    rid: str = ""
    #: the authenticated user name ("" for an anonymous request or a source that gives none),
    #: as :func:`user_name` keeps it
    user: str = ""

    def to_line(self) -> bytes:
        return self._line_text().encode()

    def _line_text(self) -> str:
        # What json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False) writes (an
        # empty rid left out), keys in field order, at a tenth of the cost: asdict deep-copies
        # every field, and ingest writes one line per pulled manifest on the request path.
        quote = encode_basestring
        rid = f',"rid":{quote(self.rid)}' if self.rid else ""
        return (
            f'{{"id":{quote(self.id)},"ts":{self.ts:d},"method":{quote(self.method)},'
            f'"name":{quote(self.name)},"tag":{quote(self.tag)},"digest":{quote(self.digest)},'
            f'"ip":{quote(self.ip)},"ua":{quote(self.ua)},"src":{quote(self.src)},'
            f'"recv":{self.recv:d}{rid},"user":{quote(self.user)}}}\n'
        )


def spool_lines(records: Iterable[PullRequestRecord]) -> bytes:
    """The spool lines of ``records``, joined: one UTF-8 encoding for the whole batch."""
    return "".join([record._line_text() for record in records]).encode()
