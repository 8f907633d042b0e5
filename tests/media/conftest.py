"""Fixtures for the media tests: a hub on loopback and an evidence log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from media_peers import EvidenceLog
from netlab import NetLab

from media import MediaHub, MediaSettings


@pytest.fixture
def media_settings(tmp_path: Path) -> MediaSettings:
    return MediaSettings(
        ice_addresses=("127.0.0.1",),
        recordings_dir=tmp_path / "recordings",
        receiver_report_timeout_s=3.0,
        viewer_gone_timeout_s=4.0,
        publisher_timeout_s=2.0,
        watchdog_interval_s=0.2,
    )


@pytest.fixture
def evidence() -> EvidenceLog:
    return EvidenceLog()


@pytest.fixture
async def hub(media_settings: MediaSettings, evidence: EvidenceLog) -> AsyncIterator[MediaHub]:
    hub = MediaHub(media_settings, evidence)
    hub.on_stage_change(evidence.stage)
    yield hub
    await hub.close()


@pytest.fixture
def netlab() -> Iterator[NetLab]:
    """Namespaces, veths and (once started) a lossy bridge; all torn down afterwards."""
    lab = NetLab()
    lab.up()
    try:
        yield lab
    finally:
        lab.down()
