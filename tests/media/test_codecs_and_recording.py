"""H.264 forwarding (what OBS sends) and recording without re-encoding."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import av
from media_peers import EvidenceLog, publish, read_pattern, watch

from media import MediaHub, MediaSettings, list_recordings


async def test_h264_publisher_reaches_viewers_in_order(hub: MediaHub) -> None:
    publisher = await publish(hub, "obs", codec="video/H264")
    viewer = await watch(hub, "obs")
    try:
        await viewer.frames(40)
        assert all(b - a == 1 for a, b in pairwise(viewer.numbers)), viewer.numbers
        transceiver = viewer.pc.getTransceivers()[0]
        assert transceiver.receiver.track is not None
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_h264_only_viewer_gets_h264_from_h264_publisher(hub: MediaHub) -> None:
    publisher = await publish(hub, "obs", codec="video/H264")
    viewer = await watch(hub, "obs", codecs="video/H264")
    try:
        await viewer.frames(20)
        assert viewer.numbers[-1] - viewer.numbers[0] == 19
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_each_published_track_is_recorded_and_listed(
    hub: MediaHub, media_settings: MediaSettings, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "rec", user_id=4)
    viewer = await watch(hub, "rec")
    try:
        await viewer.frames(45)
    finally:
        await viewer.close()
    await hub.stop(publisher.resource_id)
    await publisher.pc.close()
    assert media_settings.recordings_dir is not None
    recordings = list_recordings(media_settings.recordings_dir, "rec")
    assert sorted(r.kind for r in recordings) == ["audio", "video"]
    assert all(r.publisher_id == publisher.resource_id and r.size > 0 for r in recordings)
    video = next(r for r in recordings if r.kind == "video")
    numbers = _decoded_pattern(video.path)
    assert len(numbers) >= 40
    assert all(b - a == 1 for a, b in pairwise(numbers))
    audio = next(r for r in recordings if r.kind == "audio")
    with av.open(str(audio.path)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
        assert sum(1 for _ in container.demux(audio=0)) > 50
    assert list_recordings(media_settings.recordings_dir, "other") == ()


def _decoded_pattern(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_pattern(frame) for frame in container.decode(video=0)]


def test_recording_paths_stay_inside_the_recordings_folder(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from media.recorder import recording_path

    path = recording_path(
        tmp_path, "../../etc", "a/b", 0, "video", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert path == tmp_path / "______etc" / "20260102T030405Z-a_b-0-video.mkv"
    assert list_recordings(tmp_path, "../../etc") == ()
