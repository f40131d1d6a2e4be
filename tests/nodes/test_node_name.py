"""The default node name: the host name plus four random hex digits, made once per data dir."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from pullstats.config import Settings
from pullstats.data_dir import NODE_NAME


def test_the_default_name_is_made_once_and_kept_with_the_data_dir(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "a").node
    host = socket.gethostname().split(".")[0]
    assert NODE_NAME.fullmatch(first)
    prefix, _, suffix = first.rpartition("-")
    assert len(suffix) == 4 and int(suffix, 16) >= 0
    assert prefix == host[:40] or not NODE_NAME.fullmatch(host)  # the host name, made safe
    assert Settings(data_dir=tmp_path / "a").node == first  # a restart keeps it
    assert (tmp_path / "a" / "node-name").read_text() == first + "\n"
    # another data dir on the same host gets a name of its own (three alike: 1 in 2**48)
    others = {Settings(data_dir=tmp_path / f"b{n}").node for n in range(3)}
    assert others - {first}
    assert Settings(data_dir=tmp_path / "a", node_name="web1").node == "web1"


@pytest.mark.parametrize("bad", ["", "-web", "web 1", "web/1", "w" * 65, "wéb"])
def test_a_bad_node_name_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="must be 1 to 64 letters"):
        Settings(node_name=bad)


def test_a_damaged_name_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "node-name").write_text("web 1\n")
    with pytest.raises(ValueError, match="node-name holds no node name: delete it"):
        _ = Settings(data_dir=tmp_path / "a").node
