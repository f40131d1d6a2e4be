"""``PULLSTATS_*`` variables that name no setting: a note for each, before the command runs.

Settings come from the environment, and a misspelt name (``PULLSTATS_CLOSEGRACE``) was
ignored without a word: the command ran with the default. Each such name gets one line on
stderr, with the setting it is nearest to, and the command goes on (a name pullstats does not
know may be another tool's).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

PREFIX = "PULLSTATS_"
#: the names read outside :class:`~pullstats.config.Settings`: the hub client's, options'
#: environment variables, and the test suite's (``PULLSTATS_TEST_…``, by prefix)
READ_ELSEWHERE = frozenset(
    {
        "PULLSTATS_HUB_URL",
        "PULLSTATS_HUB_USERNAME",
        "PULLSTATS_HUB_PASSWORD",
        "PULLSTATS_HUB_CONFIG_DIR",
        "PULLSTATS_DB_COPY_TO",
        "PULLSTATS_GENERATE_TOKEN",
        "PULLSTATS_SKIP_BROWSER",
    }
)
TEST_PREFIX = "PULLSTATS_TEST_"


def unknown_setting_notes(environ: Mapping[str, str]) -> list[str]:
    """One ``note:`` line per ``PULLSTATS_*`` name of ``environ`` that pullstats does not read."""
    given = sorted(
        name
        for name in environ
        if name.startswith(PREFIX)
        and name not in READ_ELSEWHERE
        and not name.startswith(TEST_PREFIX)
    )
    if not given:
        return []  # the settings' module is not even imported (the hub commands need none)
    from pullstats.config import Settings

    known = sorted(READ_ELSEWHERE | {PREFIX + field.upper() for field in Settings.model_fields})
    notes = []
    for name in given:
        if name in known:
            continue
        nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        notes.append(f"note: {name} is not a pullstats setting{hint}: it is ignored")
    return notes
