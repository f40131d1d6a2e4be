"""The migration files follow the naming the quick schema check relies on."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from pullstats.db.migrate import MIGRATIONS, VERSIONS, head_revision


def test_each_file_holds_the_revision_it_is_named_for_in_one_line() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    revisions = {r.revision: r for r in script.walk_revisions()}
    files = sorted(p for p in VERSIONS.glob("*.py"))
    assert [p.name[:4] for p in files] == sorted(revisions)
    for path in files:
        revision = revisions[path.name[:4]]
        assert revision.path is not None and revision.path.endswith(path.name), path
        number = int(path.name[:4])
        parent = None if number == 1 else f"{number - 1:04d}"
        assert revision.down_revision == parent, path


def test_head_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
