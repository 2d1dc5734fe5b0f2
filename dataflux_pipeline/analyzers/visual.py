"""Model-free visual features shared by images and video keyframes.

`descriptor()` is a fixed-length colour and texture signature, so "find similar" works
without a CLIP model. The picture is resized to a fixed square first, so a resized copy
and its original describe the same pixels. It is a concatenation of histograms:

- colour: a joint hue/saturation/value histogram (grey pixels get value-only bins, as
  their hue is noise), for the whole picture and for each quarter, which keeps a little
  of where the colours are;
- texture: gradient-orientation histograms weighted by gradient strength, whole and per
  quarter, and how the gradient energy is spread over a 4x4 grid.

Every value is split linearly between its two nearest bins, so a slight brightening or
re-compression moves weight gradually instead of flipping bins. Each histogram is
normalised to sum 1 and square-rooted (the Hellinger map, under which the dot product is
the Bhattacharyya coefficient), then the root of a flat histogram is subtracted, so that
the part every picture shares does not count as likeness, and the block is weighted; the
whole vector is L2-normalised. Copies score about 0.97-1.0, unrelated pictures about 0.4,
and pictures with the same palette but other shapes about 0.8 (see bench/analyzers.py).
"""

from __future__ import annotations

import numpy as np

from dataflux_pipeline.analyzers.base import Segment, Vector

SPACE = "visual"
MODEL = "dataflux-visual"
VERSION = "1.0.0"  # bump when the descriptor changes; old vectors then do not compare

_SIDE = 128  # pictures are resized to this square first
_HUE, _SAT, _VAL = 8, 3, 3  # colour bins; saturation bin 0 is "grey"
_COLOUR_BINS = _VAL + _HUE * (_SAT - 1) * _VAL  # 51
_ORIENT = 8  # unsigned gradient-orientation bins
_ENERGY_GRID = 4
_EDGE_FLOOR = 6.0  # grey levels of gradient that count as noise
# (histogram, weight): colour whole + 4 quarters, orientation whole + 4 quarters, energy grid
_BLOCKS = (
    [(_COLOUR_BINS, 1.0)] + [(_COLOUR_BINS, 0.5)] * 4 + [(_ORIENT, 0.7)] + [(_ORIENT, 0.35)] * 4
) + [(_ENERGY_GRID**2, 0.7)]
DIM = sum(n for n, _ in _BLOCKS)  # 311


def _soft(values: np.ndarray, bins: int, circular: bool) -> tuple[np.ndarray, ...]:
    """Lower bin, upper bin and upper weight of each value in 0..1 under linear binning."""
    pos = values * bins - 0.5
    if not circular:
        pos = np.clip(pos, 0, bins - 1)
    lo = np.floor(pos)
    w = (pos - lo).astype(np.float32)
    lo = lo.astype(np.int64)
    hi = lo + 1
    if circular:
        lo, hi = lo % bins, hi % bins
    else:
        hi = np.minimum(hi, bins - 1)
    return lo, hi, w


def _quarters(side: int) -> np.ndarray:
    """Quarter index (0..3) of every pixel of a side x side picture, row-major."""
    half = (np.arange(side) >= side // 2).astype(np.int64)
    return (half[:, None] * 2 + half[None, :]).ravel()


def _colour(hsv: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(4, _COLOUR_BINS) soft colour histograms, one per quarter."""
    h, s, v = (hsv[..., k].ravel().astype(np.float32) / 255.0 for k in range(3))
    hb, sb, vb = _soft(h, _HUE, True), _soft(s, _SAT, False), _soft(v, _VAL, False)
    out = np.zeros(4 * _COLOUR_BINS, np.float64)
    base = cells * _COLOUR_BINS
    for si, sw in ((sb[0], 1 - sb[2]), (sb[1], sb[2])):
        for vi, vw in ((vb[0], 1 - vb[2]), (vb[1], vb[2])):
            grey = si == 0
            w_sv = sw * vw
            out += np.bincount(base[grey] + vi[grey], w_sv[grey], len(out))
            chroma = ~grey
            for hi, hw in ((hb[0], 1 - hb[2]), (hb[1], hb[2])):
                idx = _VAL + ((si - 1) * _HUE + hi) * _VAL + vi
                out += np.bincount(base[chroma] + idx[chroma], (w_sv * hw)[chroma], len(out))
    return out.reshape(4, _COLOUR_BINS)


def _texture(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(4, _ORIENT) orientation histograms per quarter and the gradient-energy grid.

    Gradients are taken at half size and counted above a floor, so that grain and
    compression noise, which point every way, do not drown the picture's edges.
    """
    side = luma.shape[0] // 2
    luma = luma[: 2 * side, : 2 * side].reshape(side, 2, side, 2).mean(axis=(1, 3))
    gx = luma[1:-1, 2:] - luma[1:-1, :-2]
    gy = luma[2:, 1:-1] - luma[:-2, 1:-1]
    mag = np.maximum(np.hypot(gx, gy).ravel() - _EDGE_FLOOR, 0)
    theta = (np.arctan2(gy, gx).ravel() % np.pi) / np.pi
    lo, hi, w = _soft(theta, _ORIENT, True)
    side -= 2
    base = _quarters(side) * _ORIENT
    orient = np.bincount(base + lo, mag * (1 - w), 4 * _ORIENT)
    orient += np.bincount(base + hi, mag * w, 4 * _ORIENT)
    cell = np.minimum(np.arange(side) * _ENERGY_GRID // side, _ENERGY_GRID - 1)
    grid = (cell[:, None] * _ENERGY_GRID + cell[None, :]).ravel()
    energy = np.bincount(grid, mag, _ENERGY_GRID**2)
    return orient.reshape(4, _ORIENT), energy


def descriptor(rgb: np.ndarray) -> np.ndarray:
    """The L2-normalised colour/texture descriptor (float32, length DIM) of an RGB picture."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3])).convert("RGB")
    img = img.resize((_SIDE, _SIDE), Image.Resampling.BOX)
    hsv = np.asarray(img.convert("HSV"))
    luma = np.asarray(img.convert("L"), np.float32)
    colour = _colour(hsv, _quarters(_SIDE))
    orient, energy = _texture(luma)
    hists = [colour.sum(axis=0), *colour, orient.sum(axis=0), *orient, energy]
    parts = []
    for hist, (n, weight) in zip(hists, _BLOCKS, strict=True):
        hist = hist + 1e-3 * hist.sum() / n + 1e-9  # flat pictures: uniform, not 0/0
        parts.append(weight * (np.sqrt(hist / hist.sum()) - np.sqrt(1.0 / n)))
    vec = np.concatenate(parts)
    return (vec / (np.linalg.norm(vec) or 1.0)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def visual_vector(segment: Segment, rgb: np.ndarray) -> Vector:
    """The descriptor of `rgb` as a vector row for `segment` in the `visual` space."""
    return Vector(
        segment_id=segment.segment_id,
        asset_id=segment.asset_id,
        space=SPACE,
        model=MODEL,
        model_version=VERSION,
        vector=descriptor(rgb).tolist(),
    )


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of luma: high for crisp, low for blurred."""
    y = rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:] - 4 * y[1:-1, 1:-1]
    return float(lap.var()) if lap.size else 0.0


def dominant_colours(rgb: np.ndarray, k: int = 3, min_share: float = 0.03) -> list[str]:
    """Up to `k` distinct main colours as hex, from a 512-bin histogram with merged bins.

    The most populated bins become seeds unless close to a chosen one; each colour is
    then the mean of the pixels in the bins nearest to its seed, so noise that spreads
    one colour over neighbouring bins is reported once and at its true average.
    """
    px = rgb[..., :3].reshape(-1, 3)
    idx = ((px[:, 0] >> 5).astype(np.int32) << 6) | ((px[:, 1] >> 5) << 3) | (px[:, 2] >> 5)
    counts = np.bincount(idx, minlength=512).astype(np.float64)
    sums = np.stack([np.bincount(idx, px[:, c], minlength=512) for c in range(3)], axis=1)
    used = counts > 0
    means = np.zeros((512, 3))
    means[used] = sums[used] / counts[used, None]
    seeds: list[int] = []
    for b in np.argsort(-counts, kind="stable"):
        if counts[b] < min_share * len(px) or len(seeds) == k:
            break
        if all(np.linalg.norm(means[b] - means[s]) >= 48 for s in seeds):
            seeds.append(int(b))
    if not seeds:
        return []
    dist = np.linalg.norm(means[used][:, None] - means[seeds][None], axis=2)
    nearest = dist.argmin(axis=1)
    hexes = []
    for j in range(len(seeds)):
        w = counts[used][nearest == j]
        colour = (means[used][nearest == j] * w[:, None]).sum(axis=0) / w.sum()
        hexes.append("#" + "".join(f"{round(c):02x}" for c in colour))
    return hexes
