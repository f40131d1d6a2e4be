"""Stage steps (:mod:`pullstats.steps`) of ``classify``."""

from __future__ import annotations

from pullstats.steps import Step, Transform

STEPS: tuple[Step | Transform, ...] = ()
