"""Browser-playable proxies: what browsers play as is is left alone; MKV and AVI become
H.264/AAC MP4 within the size limits, with the original's timestamps (a video that starts
at 2 s still starts at 2 s), so hit times stay right."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from dataflux_pipeline.analyzers.playback import ProxySettings, make_proxy, proxy_rel, why_proxy
from dataflux_pipeline.cli.samples import Shot, write_video


def write(path: Path, vcodec: str, acodec: str, fmt: str, first_frame: int = 0) -> Path:
    """3 s of 320x240 at 25 fps with a stereo tone; frames numbered from `first_frame`."""
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream(vcodec, rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream(acodec, rate=44100)
        audio.layout = "stereo"
        for i in range(75):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), i * 3, np.uint8), "rgb24")
            frame.pts = first_frame + i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 44100) / 44100)).astype(np.float32)
        size = audio.frame_size or 1152
        for start in range(0, tone.size, size):
            chunk = av.AudioFrame.from_ndarray(
                np.stack([tone[start : start + size]] * 2), format="fltp", layout="stereo"
            )
            chunk.sample_rate, chunk.pts = 44100, start
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def first_video_time(path: Path) -> float:
    with av.open(str(path)) as c:
        return next(iter(c.decode(video=0))).time


def test_browser_formats_play_as_they_are(tmp_path) -> None:
    mp4 = tmp_path / "clip.mp4"
    write_video(mp4, [Shot(25, (10, 200, 10))])
    assert why_proxy(mp4, "video/mp4") is None


@pytest.mark.parametrize(
    ("name", "mime", "vcodec", "acodec", "fmt", "start"),
    [
        ("clip.mkv", "video/x-matroska", "libx264", "mp3", "matroska", 2.0),
        ("clip.avi", "video/x-msvideo", "mpeg4", "mp2", "avi", 0.0),  # AVI has no start time
    ],
)
def test_other_formats_get_an_h264_proxy_with_the_same_times(
    tmp_path, name, mime, vcodec, acodec, fmt, start
) -> None:
    src = write(tmp_path / name, vcodec, acodec, fmt, first_frame=round(start * 25))
    assert "browsers do not play" in why_proxy(src, mime)
    dst = tmp_path / proxy_rel("ab" * 32)
    made = make_proxy(src, dst, ProxySettings(max_height=120, video_kbps=300, audio_kbps=64))
    assert made == {"width": 160, "height": 120, "video": "h264", "audio": "aac"}
    assert why_proxy(dst, "video/mp4") is None  # it plays in a browser
    assert first_video_time(src) == pytest.approx(start)
    assert first_video_time(dst) == pytest.approx(start, abs=0.02)
    with av.open(str(dst)) as proxy, av.open(str(src)) as original:
        assert proxy.duration / 1e6 == pytest.approx(original.duration / 1e6, abs=0.15)
    assert not list(dst.parent.glob(".*part"))  # written under a temp name, then renamed


def test_containers_browsers_do_not_play_are_known_without_opening_them(tmp_path) -> None:
    assert "video/quicktime" in why_proxy(tmp_path / "missing.mov", "video/quicktime")
