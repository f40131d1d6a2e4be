"""The datasets of the export routes as the client asks for them: which views each has, and
which dataset and view serve a kind of file (``raw`` … or ``summary-report``). Pure.

``pulls`` is Docker's dataset with its four dataviews; each report dataset of
:mod:`pullstats.exports.reports` (``summary``) has one view, ``report``, and its files are
named for the report (``summary-report``), a name no dataview has.
"""

from __future__ import annotations

from collections.abc import Iterable

from pullstats.exports.reports import REPORT_FILES, Dataset, ReportFile, ReportView
from pullstats.exports.views import Dataview

#: A view as the API names it: a ``pulls`` dataview, or a report dataset's one view.
View = Dataview | ReportView


def dataset_views(dataset: Dataset) -> tuple[View, ...]:
    """The views of a dataset: the four dataviews of ``pulls``, ``report`` of a report."""
    return tuple(Dataview) if dataset is Dataset.PULLS else tuple(ReportView)


def own_views(dataset: Dataset, views: Iterable[View]) -> tuple[View, ...]:
    """``views``, each of them one of ``dataset``'s; else ValueError, before any request."""
    chosen, own = tuple(views), dataset_views(dataset)
    for view in chosen:
        if view not in own:
            raise ValueError(f"the {dataset} dataset has no view {str(view)!r}")
    return chosen


def file_dataset(kind: Dataview | ReportFile) -> tuple[Dataset, View]:
    """The dataset and view that serve a kind of file (:attr:`ExportFile.kind`'s inverse)."""
    if isinstance(kind, Dataview):
        return Dataset.PULLS, kind
    dataset = next(ds for ds, report in REPORT_FILES.items() if report is ReportFile(kind))
    return Dataset(dataset.value), ReportView.REPORT
