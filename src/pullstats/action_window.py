"""How far one action reaches in time, and so which days new requests can change.

The grouping rules (``classify/rules.py``) join a request to an action only within
:data:`JOIN_WINDOW_US` of the one before; compaction and the importers, which run before
classification, use the same bounds to record which days need classifying again. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from pullstats.timestamps import day_micros

#: A request joins the open action only if it comes at most this long after its previous one.
JOIN_WINDOW_US = 5_000_000
#: An action has at most three requests (a HEAD, the GET of an index, the GET of a platform
#: manifest), each joining within the window of the one before: it spans at most this long.
MAX_ACTION_SPAN_US = 2 * JOIN_WINDOW_US


def days_to_reclassify(earliest_new: Mapping[date, int]) -> set[date]:
    """The days whose actions may change when requests are added to the lake, given each
    touched day and the time (µs since the epoch) of its earliest new request.

    A day's actions are those that open on it. Requests added to day D change D's, and may
    change D+1's: an action of D may now take in D+1's first requests, and the grouping after
    a new request can shift from there on, past midnight. They change D−1's only when one of
    them comes within :data:`MAX_ACTION_SPAN_US` of D's midnight: the rules read requests in
    time order and never look back, so an action that opened before midnight, and so ended by
    00:00:10, is decided before any later request.

    These are where classification starts, not where it ends: a change to how D+1 groups can
    change what it hands D+2, and so on for as long as a client's requests never pause past
    the join window. Classification follows it day by day, as far as it reaches
    (:mod:`pullstats.classify.carry`); the days it adds are not known here.
    """
    days: set[date] = set()
    for day, earliest in earliest_new.items():
        days |= {day, day + timedelta(days=1)}
        if earliest - day_micros(day) <= MAX_ACTION_SPAN_US:
            days.add(day - timedelta(days=1))
    return days
