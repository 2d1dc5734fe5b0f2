"""The one decode of a video: every frame scaled to the analysis width, a few to thumbnails.

Every frame is scaled inside FFmpeg to the analysis width (boundaries and statistics need
nothing finer), and the frame on screen every SAMPLE_S also to the thumbnail width, so
keyframes are chosen from frames this pass already holds instead of a second decode.
The analysis frames use swscale's fast bilinear filter: a quarter of the cost of area
averaging at 1080p, and shot scores on the bench were the same (they average over
blocks and histograms anyway). The decoders skip H.264's deblocking filter: it smooths
8-pixel block edges that the scaling averages away, and costs about a fifth of the
decoding time (1080p, measured).

The file is cut into segments that start on keyframes, decoded side by side by WORKERS
threads, each with its own single-threaded decoder; a reader thread demuxes (one packet
at a time, so memory does not grow with the file) and deals the packets out.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataflux_pipeline.analyzers.video.frames import THUMB, Scaler, VideoInfo, open_video

_SMALL = "FAST_BILINEAR"
_DECODER_OPTIONS = {"skip_loop_filter": "all"}
SAMPLE_S = 0.3  # thumbnails are made of frames this far apart
TAIL = 32  # packets of the next segment a worker may need (frames stored after a keyframe)
WORKERS = max(1, min(4, os.cpu_count() or 1))  # decoding threads
SEGMENT = 2 * TAIL  # packets a segment has at least (it ends on the next keyframe)


def grid_point(t: float) -> int:
    """The first point of the SAMPLE_S grid at or after time `t`."""
    return math.ceil(t / SAMPLE_S - 1e-9)


@dataclass
class Chunk:
    """Consecutive decoded frames of one segment, scaled, with their presentation times."""

    frames: np.ndarray  # (n, h, w, 3) uint8 at the analysis width
    starts: np.ndarray  # (n,) presentation start of each frame, seconds
    ends: np.ndarray  # (n,) presentation end (start + duration; the start when unknown)
    keys: list[int]  # positions in this chunk of frames that decode on their own
    thumbs: list[tuple[int, int, np.ndarray]]  # (position, grid point, RGB at thumbnail width)


@dataclass
class _Segment:
    """A run of packets from one keyframe on, decoded by one worker. It owns the frames
    shown from its keyframe until the next segment's keyframe (`lower` <= t < `upper`),
    so frames shown before a keyframe but stored after it (open GOPs) are decoded by
    the worker that has their references, and every frame comes out exactly once."""

    lower: float | None  # None: from the start of the file
    out: queue.Queue  # Chunks, then None (or the exception that stopped the worker)


class _Stopped(Exception):
    """The consumer went away; threads blocked on a queue give up."""


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    while True:
        try:
            return q.put(item, timeout=0.1)
        except queue.Full:
            if stop.is_set():
                raise _Stopped from None


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise _Stopped from None


class _Decoder:
    """One worker: its own decoder (single-threaded: the workers are the threads) and
    scalers; turns a segment's packets into Chunks."""

    def __init__(self, path: Path, info: VideoInfo, width: int, thumb_width: int, chunk: int):

        self.container = open_video(path)
        stream = self.container.streams.video[0]
        self.ctx = stream.codec_context
        self.ctx.thread_type, self.ctx.thread_count = "NONE", 1
        self.ctx.options = dict(_DECODER_OPTIONS)
        self.base = _time_base(stream, info)
        self.step = 1 / (info.fps or 25.0)
        self.small, self.thumb = Scaler(info, width, _SMALL), Scaler(info, thumb_width, THUMB)
        self.chunk = chunk

    def run(self, inbox: queue.Queue, stop: threading.Event) -> None:
        try:
            while (segment := _get(inbox, stop)) is not None:
                try:
                    self._segment(segment, inbox, stop)
                except _Stopped:
                    raise
                except Exception as exc:  # handed to the consumer, who raises it
                    _put(segment.out, exc, stop)
                    while _get(inbox, stop) is not None:  # so the reader never waits here
                        pass
                    return
        except _Stopped:
            pass
        finally:
            self.container.close()

    def _segment(self, segment: _Segment, inbox: queue.Queue, stop: threading.Event) -> None:
        rows: list[tuple] = []
        upper, done, t = None, False, -self.step
        while (msg := _get(inbox, stop)) != "end":
            if isinstance(msg, float):  # the next segment's keyframe: now its first packets
                upper = msg
                continue
            if done:
                continue
            for frame in self.ctx.decode(msg):
                t = t + self.step if frame.pts is None else frame.pts * self.base
                if upper is not None and t >= upper:
                    done = True  # shown in display order: every earlier frame is out
                elif segment.lower is None or t >= segment.lower:
                    rows.append(self._row(frame, t))
                    if len(rows) == self.chunk:
                        _put(segment.out, self._chunk(rows), stop)
                        rows = []
        if not done:
            for frame in self.ctx.decode(None):  # the decoder's last frames
                t = t + self.step if frame.pts is None else frame.pts * self.base
                if (upper is None or t < upper) and (segment.lower is None or t >= segment.lower):
                    rows.append(self._row(frame, t))
        self.ctx.flush_buffers()
        if rows:
            _put(segment.out, self._chunk(rows), stop)
        _put(segment.out, None, stop)

    def _row(self, frame, t: float) -> tuple:
        """(small RGB, start, end, key, thumbnail) of one frame. A thumbnail is made of the
        frame on screen at each point of a SAMPLE_S grid, so which frames get one depends
        on the times alone, not on where segments or chunks begin."""
        end = t + (frame.duration or 0) * self.base
        grid = grid_point(t)
        shown = max(end, t + self.step)
        thumb = (grid, self.thumb(frame)) if grid * SAMPLE_S < shown - 1e-9 else None
        return self.small(frame), t, max(end, t), bool(frame.key_frame), thumb

    @staticmethod
    def _chunk(rows: list[tuple]) -> Chunk:
        frames, starts, ends, keys, thumbs = zip(*rows, strict=True)
        return Chunk(
            np.stack(frames),
            np.array(starts),
            np.array(ends),
            [i for i, k in enumerate(keys) if k],
            [(i, *th) for i, th in enumerate(thumbs) if th is not None],
        )


def _time_base(stream, info: VideoInfo) -> float:
    return float(stream.time_base) if stream.time_base else 1 / (info.fps or 25.0)


def _read(
    path: Path,
    info: VideoInfo,
    inboxes: list,
    order: queue.Queue,
    span: float,
    slots: threading.Semaphore,
    stop: threading.Event,
) -> None:
    """Demux the video stream and deal its packets out, a segment per worker in turn.

    A segment starts on a keyframe once the current one has `span` packets. The first
    TAIL packets of a segment also go to the worker of the segment before, which needs
    them for frames shown before the keyframe; they are sent there first, so a worker
    whose output the consumer waits for never waits for the reader.
    """

    try:
        with open_video(path) as container:
            stream = container.streams.video[0]
            base = _time_base(stream, info)  # as the workers compute frame times
            count, sent, tail = 0, span, 0
            inbox = prev = None
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                if inbox is None or (
                    packet.is_keyframe and packet.pts is not None and sent >= span
                ):
                    while not slots.acquire(timeout=0.1):  # the consumer is far behind
                        if stop.is_set():
                            raise _Stopped
                    if prev is not None and tail:
                        _put(prev, "end", stop)
                    lower = None if inbox is None else packet.pts * base
                    segment = _Segment(lower, queue.Queue(maxsize=2))
                    _put(order, segment, stop)
                    prev, inbox = inbox, inboxes[count % len(inboxes)]
                    if prev is not None:
                        _put(prev, lower, stop)
                    _put(inbox, segment, stop)
                    count, sent, tail = count + 1, 0, TAIL if prev is not None else 0
                if tail:
                    _put(prev, packet, stop)
                    tail -= 1
                    if not tail:
                        _put(prev, "end", stop)
                _put(inbox, packet, stop)
                sent += 1
            if prev is not None and tail:
                _put(prev, "end", stop)
            if inbox is not None:
                _put(inbox, "end", stop)
    except _Stopped:
        return
    except Exception as exc:
        _put(order, exc, stop)
    finally:
        for box in inboxes:
            with contextlib.suppress(_Stopped):
                _put(box, None, stop)
    with contextlib.suppress(_Stopped):
        _put(order, None, stop)


def decode(
    path: Path, info: VideoInfo, width: int, thumb_width: int, chunk: int
) -> Iterator[Chunk]:
    """Decode `path` once, in display order, in chunks of up to `chunk` frames.

    Segments of at least SEGMENT packets, each starting on a keyframe, are decoded by
    WORKERS threads side by side with their own single-threaded decoders, which keeps
    every core busy without the overhead of FFmpeg's frame threads (a quarter more CPU
    time, measured at 480p). Segments this short keep both workers busy to the end of
    a short clip; what a worker decodes past its segment's end to find its last frames
    is a few frames. Memory: up to 2 * WORKERS + 1 segments in flight, each holding at
    most two chunks, and 2 * (chunk + TAIL) packets queued per worker.
    """
    stop = threading.Event()
    # room for the next segment or two, so the reader reaches the other workers' segments
    inboxes = [queue.Queue(maxsize=2 * (chunk + TAIL)) for _ in range(WORKERS)]
    span = SEGMENT if len(inboxes) > 1 else math.inf  # one worker: one segment
    order: queue.Queue = queue.Queue()
    slots = threading.Semaphore(2 * len(inboxes) + 1)  # segments decoded ahead of the consumer
    decoders = [_Decoder(path, info, width, thumb_width, chunk) for _ in inboxes]
    threads = [
        threading.Thread(target=d.run, args=(box, stop), name="decode", daemon=True)
        for d, box in zip(decoders, inboxes, strict=True)
    ]
    threads.append(
        threading.Thread(
            target=_read, args=(path, info, inboxes, order, span, slots, stop), daemon=True
        )
    )
    for thread in threads:
        thread.start()
    try:
        while (segment := _get(order, stop)) is not None:
            if isinstance(segment, BaseException):
                raise segment
            while (item := _get(segment.out, stop)) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
            slots.release()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
