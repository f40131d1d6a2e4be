"""The lost-actions check of ``export`` on a lake in object storage (a local S3-protocol
server): a day classified to nothing holds nothing back, read through the bucket; a day whose
actions object is gone holds its periods back until ``process`` has classified it again
(tests/exports/test_missing_actions.py has the same on a lake in a folder)."""

from __future__ import annotations

import pytest

from pullstats.db.state import pending_days
from pullstats.exports.closing import export_closed
from pullstats.lake_files import action_key
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.exports.test_closing import register
from tests.exports.test_missing_actions import MONTH, NOW, TUESDAY, WEEK, failures, lake_week
from tests.storage.conftest import S3Server

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def test_a_lost_actions_object_holds_its_periods_back_until_classified_again(
    s3_env: S3Server, s3_installation: tuple[Runtime, str]
) -> None:
    runtime, bucket = s3_installation
    register(runtime, "acme")
    lake_week(runtime)  # Thursday classified to nothing: no actions object
    first = export_closed(runtime, now=NOW)
    assert first.failed == []
    assert {task.period for task in first.exported} == {WEEK, MONTH}

    lost = f"lake/{action_key(TUESDAY)}"
    assert lost in s3_env.keys(bucket)
    s3_env.client().delete_object(Bucket=bucket, Key=lost)  # type: ignore[attr-defined]
    held = export_closed(runtime, now=NOW, rebuild=True, namespace="acme")
    text = (
        f"the actions of {TUESDAY} are missing from the lake ({action_key(TUESDAY)}), its "
        f"requests are not; the period is exported after `pullstats process` has classified "
        f"{TUESDAY} again"
    )
    assert failures(held) == {"2026-W02": text, "2026-01": text}
    with runtime.sessions() as session:
        assert pending_days(session) == {TUESDAY}

    assert process(runtime).actions == 3  # Tuesday's three clients, classified again
    assert lost in s3_env.keys(bucket)
    again = export_closed(runtime, now=NOW, rebuild=True, namespace="acme")
    assert again.failed == []
    assert {task.period for task in again.exported} == {WEEK, MONTH}
