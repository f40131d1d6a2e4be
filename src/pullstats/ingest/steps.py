"""Stage steps (:mod:`pullstats.steps`) of ``ingest``."""

from __future__ import annotations

from pullstats.steps import Step, Transform

STEPS: tuple[Step | Transform, ...] = ()
