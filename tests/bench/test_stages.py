"""The in-process stage measure runs every alert-path stage as its service does."""

from __future__ import annotations

import pytest

from bench.stages import STAGES, measure


async def test_every_incident_goes_through_every_stage_and_each_stage_is_costed() -> None:
    costs = await measure(records=200)
    assert costs.records == 200
    assert costs.linked == 200
    # Each incident is a significant-harm override: at least the MASH's view, and an alert.
    assert costs.views >= 200
    assert costs.alerts_changed >= 200
    per = costs.ms_per_record()
    assert all(per[stage] > 0 for stage in STAGES)
    assert per["all"] == pytest.approx(sum(per[stage] for stage in STAGES), abs=0.01)
