"""Shot-boundary detection in plain numpy, fed chunk by chunk so memory stays flat.

The score of frame i is how different it is from frame i-1: the mean of the absolute
pixel difference and the earth mover's distance between per-channel histograms (both
in grey levels, 0..255). Pixel difference catches cuts between shots of similar
colours; the histogram distance ignores where things are, so motion inside a shot adds
little, and unlike bin-by-bin histogram distances it grows smoothly with a brightness
change instead of jumping when values cross a bin edge. Like PySceneDetect's
AdaptiveDetector, a frame is a hard cut when its score is `threshold` times the mean
score of the `window` frames either side of it, so steady motion, noise and slow fades
(high but even scores) do not fire while an isolated spike does.

Fades: a run of black frames ends a shot, and the first frame after the run starts the
next one, whether it arrives by a hard cut or by a fade in. Black frames stay with the
shot that faded into them and a cut *into* black is not a boundary, so "fade to black,
then a new shot" yields exactly one boundary.
"""

from __future__ import annotations

import numpy as np

_BIN_BITS = 5
_BINS = 1 << _BIN_BITS  # per-channel histogram bins


class ShotDetector:
    """Finds cut frame indices (first frame of each new shot) in a stream of RGB frames.

    Call `feed()` with uint8 arrays of shape (n, h, w, 3), in order, then `finish()`.
    Both return the cuts that became certain during that call; `cuts` holds them all.
    A cut is decided `window` frames after it is seen, so only a few scores are kept.
    """

    def __init__(
        self,
        min_shot_frames: int = 10,
        threshold: float = 3.0,
        min_score: float = 8.0,
        window: int = 2,
        black_luma: float = 16.0,
        black_bright_fraction: float = 0.02,
    ) -> None:
        self.min_shot_frames = max(1, int(min_shot_frames))
        self.threshold = threshold
        self.min_score = min_score
        self.window = max(1, int(window))
        self.black_luma = black_luma
        self.black_bright_fraction = black_bright_fraction
        self.cuts: list[int] = []
        self._seen = 0  # frames fed so far
        self._next = 1  # first frame not yet decided (frame 0 never is a cut)
        self._base = 0  # frame index of _scores[0] and _black[0]
        self._scores = np.zeros(0, np.float64)
        self._black = np.zeros(0, bool)
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._first_content: int | None = None  # first frame that is not black
        self._last_cut = 0

    def feed(self, frames: np.ndarray) -> list[int]:
        """Score a chunk and return the cuts that are now certain."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError("frames must be uint8 with shape (n, h, w, 3)")
        if not len(frames):
            return []
        scores, black = self._score(frames)
        if self._first_content is None and not black.all():
            self._first_content = self._seen + int(np.argmin(black))
        self._scores = np.concatenate([self._scores, scores])
        self._black = np.concatenate([self._black, black])
        self._seen += len(frames)
        return self._decide(self._seen - self.window)

    def finish(self) -> list[int]:
        """Decide the last frames, whose right-hand window is cut short by the end."""
        return self._decide(self._seen)

    def _score(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame difference to the previous frame, and whether each frame is black.

        Histograms and blackness are distributions, so every second pixel each way is
        plenty; the pixel difference uses all pixels.
        """
        n = len(frames)
        prev_frame, prev_cdf = self._prev if self._prev is not None else (frames[:1], None)
        seq = np.concatenate([prev_frame, frames])
        absdiff = np.maximum(seq[1:], seq[:-1]) - np.minimum(seq[1:], seq[:-1])
        pixel = absdiff.reshape(n, -1).mean(axis=1, dtype=np.float64)
        sample = frames[:, ::2, ::2].reshape(n, -1, 3)
        wide = sample.astype(np.uint16)
        luma = (wide[..., 0] * 77 + wide[..., 1] * 150 + wide[..., 2] * 29) >> 8
        black = (luma.mean(axis=1) < self.black_luma) & (
            (luma > 2 * self.black_luma).mean(axis=1) < self.black_bright_fraction
        )
        nbins = 3 * _BINS
        idx = (sample >> (8 - _BIN_BITS)).astype(np.int32) + np.arange(3, dtype=np.int32) * _BINS
        idx += np.arange(n, dtype=np.int32)[:, None, None] * nbins
        hist = np.bincount(idx.ravel(), minlength=n * nbins).reshape(n, 3, _BINS)
        cdf = np.cumsum(hist, axis=2, dtype=np.float32) / sample.shape[1]
        cdfs = np.concatenate([cdf[:1] if prev_cdf is None else prev_cdf, cdf])
        emd = np.abs(np.diff(cdfs, axis=0)).sum(axis=2).mean(axis=1) * (256 / _BINS)
        self._prev = (frames[-1:].copy(), cdf[-1:].copy())
        return 0.5 * (pixel + emd), black

    def _decide(self, upto: int) -> list[int]:
        start, stop = self._next, min(upto, self._seen)
        if stop <= start:
            return []
        frames = np.arange(start, stop)
        s = self._scores
        cs = np.concatenate([[0.0], np.cumsum(s)])
        lo = np.maximum(frames - self.window, 1) - self._base
        hi = np.minimum(frames + self.window, self._seen - 1) - self._base
        i = frames - self._base
        count = hi - lo  # neighbours, excluding the frame itself
        total = cs[hi + 1] - cs[lo] - s[i]
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        score = s[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(mean > 0, score / mean, np.inf)
        black = self._black[i]
        hard = (ratio >= self.threshold) & (score >= self.min_score) & ~black
        fade_in = ~black & self._black[i - 1]
        if self._first_content is not None:
            fade_in &= frames - 1 > self._first_content
        else:
            fade_in[:] = False
        new: list[int] = []
        for f in frames[hard | fade_in].tolist():
            if f - self._last_cut >= self.min_shot_frames:
                new.append(f)
                self._last_cut = f
        self.cuts.extend(new)
        self._next = stop
        keep_from = max(0, stop - self.window - 1)
        self._scores = self._scores[keep_from - self._base :]
        self._black = self._black[keep_from - self._base :]
        self._base = keep_from
        return new
