"""Reading the export catalog: which periods a namespace has, and the files of a view.

The API lists only what this module returns: closed periods that were exported because they
have data for the namespace (docs/exports.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.db.models import ExportFile, ExportPeriod
from pullstats.periods import Period, PeriodKind


def exported_periods(session: Session, namespace: str) -> list[Period]:
    """Every exported period of ``namespace``, oldest first."""
    rows = session.execute(
        select(ExportPeriod.period_kind, ExportPeriod.period_start).where(
            ExportPeriod.namespace == namespace
        )
    )
    return sorted(Period(PeriodKind(kind), start) for kind, start in rows)


def report_periods(session: Session, namespace: str, report: str) -> list[Period]:
    """Every period of ``namespace`` whose export has the file ``report`` (a report file's
    catalog name, ``summary-report``), oldest first: an export written before that report
    existed has none until it is exported again."""
    rows = session.execute(
        select(ExportFile.period_kind, ExportFile.period_start)
        .where(ExportFile.namespace == namespace, ExportFile.view == report)
        .distinct()
    )
    return sorted(Period(PeriodKind(kind), start) for kind, start in rows)


def years_with_data(periods: Sequence[Period]) -> list[int]:
    """Calendar years of months and ISO years of weeks, merged."""
    return sorted({period.year for period in periods})


def periods_in_year(periods: Sequence[Period], kind: PeriodKind, year: int) -> list[int]:
    """Month or ISO week numbers of ``kind`` in ``year`` (the ISO year, for weeks)."""
    return sorted(p.number for p in periods if p.kind is kind and p.year == year)


def period_files(
    session: Session, namespace: str, periods: list[Period]
) -> dict[tuple[Period, str], list[ExportFile]]:
    """The parts of every view of ``periods``, by (period, view), each in part order: one
    query for them all (a year of weeks and months is 64 periods, 256 views)."""
    wanted = set(periods)
    found: dict[tuple[Period, str], list[ExportFile]] = {}
    if not wanted:
        return found
    query = (
        select(ExportFile)
        .where(
            ExportFile.namespace == namespace,
            ExportFile.period_start.in_(sorted({p.start for p in wanted})),
        )
        .order_by(ExportFile.period_kind, ExportFile.period_start, ExportFile.view, ExportFile.part)
    )
    for entry in session.scalars(query):
        period = Period(PeriodKind(entry.period_kind), entry.period_start)
        if period in wanted:  # a week and a month may start on the same day
            found.setdefault((period, entry.view), []).append(entry)
    return found


def view_files(session: Session, namespace: str, period: Period, view: str) -> list[ExportFile]:
    """The parts of one view of one exported period, in part order."""
    query = (
        select(ExportFile)
        .where(
            ExportFile.namespace == namespace,
            ExportFile.period_kind == period.kind.value,
            ExportFile.period_start == period.start,
            ExportFile.view == view,
        )
        .order_by(ExportFile.part)
    )
    return list(session.scalars(query))
