"""Browser-playable copies ("proxies") of audio and video that browsers cannot play as
they are: MKV, AVI, most MOV, HEVC, 10-bit H.264, WMA and the like. A proxy is H.264 +
AAC in MP4 (audio alone: AAC in MP4), the one pair every current browser plays, scaled
to a bounded height and bit rate. Frames and samples keep the original's presentation
times, so a hit at 12.5 s in the original is at 12.5 s in the proxy.

Plain Python on PyAV, whose wheel ships FFmpeg (with libx264): no binary on the host."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

PROXY_VERSION = "1"
PROXIES = "proxies"  # the store folder, next to thumbnails/
# Containers (by sniffed MIME type) and codecs that Chrome, Firefox and Safari all play.
NATIVE_CONTAINERS = {
    "video/mp4": ({"h264", "av1", "vp9"}, {"aac", "mp3", "opus", "flac"}),
    "video/x-m4v": ({"h264"}, {"aac", "mp3"}),
    "video/webm": ({"vp8", "vp9", "av1"}, {"opus", "vorbis"}),
    "audio/mp4": (set(), {"aac", "mp3", "opus", "flac"}),
    "audio/webm": (set(), {"opus", "vorbis"}),
    "audio/mpeg": (set(), {"mp3"}),
    "audio/aac": (set(), {"aac"}),
    "audio/ogg": (set(), {"opus", "vorbis", "flac"}),
    "audio/x-flac": (set(), {"flac"}),
    "audio/flac": (set(), {"flac"}),
    "audio/wav": (set(), {"pcm_s16le", "pcm_u8", "pcm_f32le", "pcm_s24le"}),
}
PLAYABLE_PIXELS = {"yuv420p", "yuvj420p"}  # 10-bit and 4:2:2 H.264 do not play


@dataclass(frozen=True)
class ProxySettings:
    max_height: int = 720
    video_kbps: int = 2500
    audio_kbps: int = 128


def proxy_rel(asset_id: str) -> str:
    """Where a content's proxy lives in the store (purged with its thumbnails)."""
    return f"{PROXIES}/{asset_id[:2]}/{asset_id}/proxy-v{PROXY_VERSION}.mp4"


def why_proxy(path: Path, mime: str) -> str | None:
    """Why a browser cannot play this file as it is (None: it can)."""
    import av

    allowed = NATIVE_CONTAINERS.get(mime)
    if allowed is None:
        return f"browsers do not play {mime} files"
    video_ok, audio_ok = allowed
    with av.open(str(path)) as container:
        for stream in container.streams.video:
            if stream.disposition & av.stream.Disposition.attached_pic:
                continue  # cover art
            name = stream.codec_context.name
            if name not in video_ok:
                return f"browsers do not play {name} video in {mime}"
            if name == "h264" and stream.codec_context.pix_fmt not in PLAYABLE_PIXELS:
                return f"browsers do not play {stream.codec_context.pix_fmt} H.264"
        for stream in container.streams.audio:
            if stream.codec_context.name not in audio_ok:
                return f"browsers do not play {stream.codec_context.name} audio in {mime}"
    return None


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def make_proxy(src: Path, dst: Path, settings: ProxySettings) -> dict[str, float | int | str]:
    """Transcode `src` to an H.264/AAC MP4 at `dst` (written to a temp name, then renamed
    into place); returns what was written."""
    import av

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
            info = _transcode(inp, out, settings)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return info


def _transcode(inp, out, settings: ProxySettings) -> dict[str, float | int | str]:
    import av

    cover = av.stream.Disposition.attached_pic
    vin = next((s for s in inp.streams.video if not s.disposition & cover), None)
    ain = inp.streams.audio[0] if inp.streams.audio else None
    if vin is None and ain is None:
        raise ValueError("no audio or video stream to play")
    vout = aout = None
    width = height = 0
    if vin is not None:
        cc = vin.codec_context
        scale = min(1.0, settings.max_height / max(1, cc.height))
        width, height = _even(cc.width * scale), _even(cc.height * scale)
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.time_base = Fraction(1, 90000)
        kbps = settings.video_kbps
        vout.options = {
            "preset": "veryfast",
            "crf": "23",
            "maxrate": f"{kbps}k",
            "bufsize": f"{2 * kbps}k",
            "g": str(max(1, round(float(rate) * 2))),  # a keyframe every 2 s: quick seeks
        }
    if ain is not None:
        aout = out.add_stream("aac", rate=48000)
        aout.layout = "stereo" if (ain.codec_context.channels or 1) > 1 else "mono"
        aout.bit_rate = settings.audio_kbps * 1000
        resampler = av.AudioResampler(format="fltp", layout=aout.layout, rate=48000)
    streams = [s for s in (vin, ain) if s is not None]
    last_pts = -1
    for frame in inp.decode(*streams):
        if frame.time is None:
            continue
        if isinstance(frame, av.VideoFrame):
            image = frame.reformat(width=width, height=height, format="yuv420p")
            pts = round(frame.time / vout.time_base)
            if pts <= last_pts:  # duplicated or out-of-order timestamps: keep order
                pts = last_pts + 1
            image.pts, image.time_base, last_pts = pts, vout.time_base, pts
            for packet in vout.encode(image):
                out.mux(packet)
        else:
            # the resampler keeps the first frame's time and counts samples from there
            for chunk in resampler.resample(frame):
                for packet in aout.encode(chunk):
                    out.mux(packet)
    for stream in (vout, aout):
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    return {
        "width": width,
        "height": height,
        "video": "h264" if vout is not None else "",
        "audio": "aac" if aout is not None else "",
    }
