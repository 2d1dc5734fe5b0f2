"""Shot-boundary detection in plain numpy, fed chunk by chunk so memory stays flat.

Three kinds of boundary, each found by the signal that suits it:

Hard cuts. The score of frame i is how different it is from frame i-1: the mean of the
absolute pixel difference and the earth mover's distance between per-channel histograms
(both in grey levels, 0..255). Like PySceneDetect's AdaptiveDetector, a frame is a cut
when its score is `threshold` times the mean score of the `window` frames either side of
it, so steady motion, noise and gradual transitions (high but even scores) do not fire
while an isolated spike does.

Fades through black. A run of black frames ends a shot, and the first frame after the
run starts the next one, whether it arrives by a hard cut or by a fade in. Black frames
stay with the shot that faded into them and a cut *into* black is not a boundary, so
"fade to black, then a new shot" yields exactly one boundary.

Cross-dissolves. Per-frame differences during a dissolve are small and even, so they
are found on block means of the frames by a matched filter instead: for a centre c and a
half-width h, frames c-h and c+h differ a lot (`d`), frame c is close to their average
(`r`, a dissolve is a linear mix), and the picture is steady for h frames on either side
(`s`, which rules out pans and slow drifts, whose change never settles). The test runs
on an 8-wide grid, and on a 2 x 2 grid that tolerates fast motion in both shots; a 2 x 2
match must also look like a mix on the 8-wide grid, since a camera move that stops
passes the coarse test but leaves frame c far from the average of c-h and c+h there.
The centre that best satisfies this over a few half-widths is the boundary. Windows
that hold a black frame or a hard cut, or that start or end dim, are left to the fade
and cut rules, so a fade to near-black followed by a cut is counted once, at the cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BIN_BITS = 5
_BINS = 1 << _BIN_BITS  # per-channel histogram bins
_GRID = 8  # columns of the block grid that dissolves are looked for on


@dataclass(frozen=True)
class Boundary:
    """The first frame of a new shot and how the shot began."""

    frame: int
    kind: str  # "cut", "fade" or "dissolve"


def tiny_frames(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block means of each frame on two grids: square blocks _GRID across, and 2 x 2.

    Blocks this coarse average the texture away, so a pan or a moving object changes
    them little while a dissolve moves every one of them steadily; the 2 x 2 grid still
    sees dissolves between shots that both move fast.
    """
    n, h, w, _ = frames.shape
    cols = min(_GRID, w)
    rows = max(1, min(h, round(h * cols / w)))
    bh, bw = h // rows, w // cols
    crop = frames[:, : rows * bh, : cols * bw]
    across = np.add.reduceat(crop, np.arange(0, cols * bw, bw), axis=2, dtype=np.uint32)
    fine = np.add.reduceat(across, np.arange(0, rows * bh, bh), axis=1)
    halves_r, halves_c = sorted({0, rows // 2}), sorted({0, cols // 2})
    coarse = np.add.reduceat(np.add.reduceat(fine, halves_c, axis=2), halves_r, axis=1)
    per_row = np.diff([*halves_r, rows])[:, None, None] * np.diff([*halves_c, cols])[:, None]
    coarse = coarse / (per_row * bh * bw).astype(np.float32)
    return (
        fine.reshape(n, -1).astype(np.float32) * np.float32(1 / (bh * bw)),
        coarse.reshape(n, -1).astype(np.float32),
    )


def _mix_test(tiny: np.ndarray, c: np.ndarray, h: int) -> tuple[np.ndarray, ...]:
    """For centres c and half-width h: how far frames c-h and c+h differ (d), how far
    frame c is from their average (r), and how much the picture moves in the h frames
    before c-h or after c+h (s), all as mean absolute differences of block means."""
    a, m, b = tiny[c - h], tiny[c], tiny[c + h]
    d = np.abs(a - b).mean(axis=1)
    r = np.abs(m - 0.5 * (a + b)).mean(axis=1)
    s = np.maximum(
        np.abs(tiny[c - 2 * h] - a).mean(axis=1), np.abs(b - tiny[c + 2 * h]).mean(axis=1)
    )
    return d, r, s


class ShotDetector:
    """Finds shot boundaries (first frame of each new shot) in a stream of RGB frames.

    Call `feed()` with uint8 arrays of shape (n, h, w, 3), in order, then `finish()`.
    Both return the cut frames that became certain during that call; `cuts` holds them
    all and `boundaries` says which kind each one is. A frame is decided a fixed number
    of frames after it is seen (about two of the longest dissolve half-widths), so only a
    short tail of scores and tiny frames is kept, and chunk sizes do not change results.
    """

    def __init__(
        self,
        min_shot_frames: int = 10,
        threshold: float = 3.0,
        min_score: float = 8.0,
        window: int = 2,
        black_luma: float = 16.0,
        black_bright_fraction: float = 0.02,
        dissolve_spans: tuple[int, ...] = (3, 6, 12, 24),
        dissolve_min: float = 10.0,
        linearity: float = 0.25,
        stability: float = 0.3,
        ghosting: float = 0.3,
        flash_frames: int = 5,
        flash_return: float = 0.3,
    ) -> None:
        self.min_shot_frames = max(1, int(min_shot_frames))
        self.threshold = threshold
        self.min_score = min_score
        self.window = max(1, int(window))
        self.black_luma = black_luma
        self.black_bright_fraction = black_bright_fraction
        self.spans = tuple(sorted({max(1, int(h)) for h in dissolve_spans}))
        self.dissolve_min = dissolve_min
        self.linearity = linearity
        self.stability = stability
        self.ghosting = ghosting
        self.flash_frames = max(0, int(flash_frames))
        self.flash_return = flash_return
        longest = self.spans[-1] if self.spans else 0
        self._reach = 2 * longest + self.window  # frames after c the dissolve filter reads
        self._radius = longest  # a dissolve centre must beat its neighbours this far
        self.boundaries: list[Boundary] = []
        self._seen = 0  # frames fed so far
        self._next = 1  # first frame not yet decided (frame 0 never is a cut)
        self._qnext = 0  # first frame whose dissolve quality is not yet computed
        self._base = 0  # frame index of the first entry of every buffer
        self._scores = np.zeros(0, np.float64)
        self._black = np.zeros(0, bool)
        self._dim = np.zeros(0, bool)  # darker than twice the black level
        self._tiny: np.ndarray | None = None  # fine then coarse block means, per frame
        self._split = 0  # where the coarse block means start
        self._quality = np.zeros(0, np.float64)
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._first_content: int | None = None  # first frame that is not black
        self._last_cut = 0

    @property
    def cuts(self) -> list[int]:
        return [b.frame for b in self.boundaries]

    @property
    def decided(self) -> int:
        """Frames before this one will not gain or lose a boundary."""
        return self._next

    def feed(self, frames: np.ndarray) -> list[int]:
        """Score a chunk and return the cuts that are now certain."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError("frames must be uint8 with shape (n, h, w, 3)")
        if not len(frames):
            return []
        scores, black, dim = self._score(frames)
        if self._first_content is None and not black.all():
            self._first_content = self._seen + int(np.argmin(black))
        fine, coarse = tiny_frames(frames)
        self._split = fine.shape[1]
        tiny = np.concatenate([fine, coarse], axis=1)
        self._tiny = tiny if self._tiny is None else np.concatenate([self._tiny, tiny])
        self._scores = np.concatenate([self._scores, scores])
        self._black = np.concatenate([self._black, black])
        self._dim = np.concatenate([self._dim, dim])
        self._quality = np.concatenate([self._quality, np.full(len(frames), -np.inf)])
        self._seen += len(frames)
        self._dissolve_quality(self._seen - self._reach)
        lag = max(self.window, self._reach + self._radius, self.flash_frames)
        return self._decide(self._seen - lag)

    def finish(self) -> list[int]:
        """Decide the last frames, whose right-hand windows are cut short by the end."""
        self._dissolve_quality(self._seen)
        return self._decide(self._seen)

    def _score(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame difference to the previous frame, and whether each frame is black
        or at least dim.

        Histograms and blackness are distributions, so every second pixel each way is
        plenty; the pixel difference uses all pixels.
        """
        n = len(frames)
        prev_frame, prev_cdf = self._prev if self._prev is not None else (frames[:1], None)
        flat = frames.reshape(n, -1)
        before = np.empty_like(flat)  # each frame's predecessor; |a - b| = max - min in uint8
        before[0], before[1:] = prev_frame.reshape(-1), flat[:-1]
        absdiff = np.maximum(flat, before)
        absdiff -= np.minimum(flat, before, out=before)
        pixel = absdiff.sum(axis=1, dtype=np.uint32) / flat.shape[1]
        sample = frames[:, ::2, ::2].reshape(n, -1, 3)
        wide = sample.astype(np.uint16)
        luma = (wide[..., 0] * 77 + wide[..., 1] * 150 + wide[..., 2] * 29) >> 8
        level = luma.mean(axis=1)
        black = (level < self.black_luma) & (
            (luma > 2 * self.black_luma).mean(axis=1) < self.black_bright_fraction
        )
        nbins = 3 * _BINS
        idx = np.right_shift(sample, 8 - _BIN_BITS, dtype=np.intp)  # bincount wants intp
        idx += np.arange(3) * _BINS + np.arange(n)[:, None, None] * nbins
        hist = np.bincount(idx.ravel(), minlength=n * nbins).reshape(n, 3, _BINS)
        cdf = np.cumsum(hist, axis=2, dtype=np.float32) / sample.shape[1]
        cdfs = np.concatenate([cdf[:1] if prev_cdf is None else prev_cdf, cdf])
        emd = np.abs(np.diff(cdfs, axis=0)).sum(axis=2).mean(axis=1) * (256 / _BINS)
        self._prev = (frames[-1:].copy(), cdf[-1:].copy())
        return 0.5 * (pixel + emd), black, level < 2 * self.black_luma

    def _dissolve_quality(self, upto: int) -> None:
        """Matched-filter quality of each centre in [_qnext, upto); -inf where none fits."""
        start, stop = self._qnext, min(upto, self._seen)
        if stop <= start or self._tiny is None or not self.spans:
            self._qnext = max(start, stop)
            return
        c = np.arange(start, stop)
        base = self._base
        blacks = np.concatenate([[0], np.cumsum(self._black)])
        first = max(1, start - self.spans[-1])  # hard cuts near the centres, from here
        steps = self._hard(np.arange(first, min(self._seen, stop + self.spans[-1] + 1)))
        cuts = np.concatenate([[0], np.cumsum(steps)])
        best = np.full(len(c), -np.inf)
        fine, coarse = self._tiny[:, : self._split], self._tiny[:, self._split :]
        for h in self.spans:
            ok = (c - 2 * h >= 0) & (c + 2 * h < self._seen)
            if not ok.any():
                continue
            cc = c[ok] - base
            lo, hi = cc - 2 * h, cc + 2 * h
            dark = (blacks[hi + 1] - blacks[lo] > 0) | self._dim[cc - h] | self._dim[cc + h]
            k = c[ok] - first
            dark |= cuts[k + h + 1] - cuts[np.maximum(k - h + 1, 0)] > 0  # a step, not a mix
            d, r, s = _mix_test(fine, cc, h)
            q = self._fit(d, r, s, self.dissolve_min)
            ghost = r <= self.ghosting * d  # the middle frame looks like a mix, not a move
            dc, rc, sc = _mix_test(coarse, cc, h)
            qc = np.where(ghost, self._fit(dc, rc, sc, 1.5 * self.dissolve_min), -np.inf)
            best[ok] = np.maximum(best[ok], np.where(dark, -np.inf, np.maximum(q, qc)))
        self._quality[start - base : stop - base] = best
        self._qnext = stop

    def _fit(self, d: np.ndarray, r: np.ndarray, s: np.ndarray, least: float) -> np.ndarray:
        """Quality d - 2r - s where the mix test passes, else -inf."""
        fits = (d >= least) & (r <= self.linearity * d) & (s <= self.stability * d)
        return np.where(fits, d - 2 * r - s, -np.inf)

    def _hard(self, frames: np.ndarray) -> np.ndarray:
        """Whether each frame (>= 1, scored) is a hard cut by the adaptive-ratio test."""
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
        return (ratio >= self.threshold) & (score >= self.min_score) & ~self._black[i]

    def _decide(self, upto: int) -> list[int]:
        start, stop = self._next, min(upto, self._seen)
        if stop <= start:
            return []
        frames = np.arange(start, stop)
        i = frames - self._base
        black = self._black[i]
        hard = self._hard(frames)
        hard[hard] = ~self._returns(frames[hard])
        fade_in = ~black & self._black[i - 1]
        if self._first_content is not None:
            fade_in &= frames - 1 > self._first_content
        else:
            fade_in[:] = False
        dissolve = self._peaks(frames)
        new: list[int] = []
        for k in np.flatnonzero(hard | fade_in | dissolve).tolist():
            f = int(frames[k])
            if f - self._last_cut < self.min_shot_frames:
                continue
            kind = "fade" if fade_in[k] else "cut" if hard[k] else "dissolve"
            self.boundaries.append(Boundary(f, kind))
            new.append(f)
            self._last_cut = f
        self._next = stop
        self._trim()
        return new

    def _returns(self, frames: np.ndarray) -> np.ndarray:
        """Whether the picture of the frames just before each frame comes back in the
        frames just after it, within `flash_frames`: a camera flash or a glitch, which
        differs from both sides, not a cut. Compared on the fine block means: some
        pair (before, after) must be `flash_return` times closer than the cut's own pair.
        """
        fine = self._tiny[:, : self._split] if self._tiny is not None else None
        out = np.zeros(len(frames), bool)
        if fine is None or not self.flash_frames:
            return out
        k = self.flash_frames
        for n, f in enumerate(frames.tolist()):
            i = f - self._base
            before = fine[max(0, i - 1 - k) : i][::-1]  # nearest first
            after = fine[i : min(len(fine), i + 1 + k)]
            dist = np.abs(before[:, None] - after[None]).mean(axis=2)
            step = dist[0, 0]
            dist[0, 0] = np.inf
            out[n] = dist.min() < self.flash_return * step
        return out

    def _peaks(self, frames: np.ndarray) -> np.ndarray:
        """Centres whose quality is the highest within `_radius` frames (earliest on ties)."""
        q, base, rad = self._quality, self._base, self._radius
        i = frames - base
        peak = np.isfinite(q[i])
        for k in np.flatnonzero(peak).tolist():
            j = int(i[k])
            left = q[max(0, j - rad) : j]
            right = q[j + 1 : j + rad + 1]
            peak[k] = not ((left >= q[j]).any() or (right > q[j]).any())
        return peak

    def _trim(self) -> None:
        """Drop buffered frames that no future decision reads."""
        keep_from = max(
            0,
            min(
                self._next - self.window - 1,
                self._qnext - self._reach,
                self._next - self._radius,
                self._next - 1 - self.flash_frames,
            ),
        )
        cut = keep_from - self._base
        if cut <= 0:
            return
        self._scores = self._scores[cut:]
        self._black = self._black[cut:]
        self._dim = self._dim[cut:]
        self._quality = self._quality[cut:]
        if self._tiny is not None:
            self._tiny = self._tiny[cut:]
        self._base = keep_from
