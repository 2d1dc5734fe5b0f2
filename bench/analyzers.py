"""Analyzer benchmark: accuracy, speed and memory of the video, audio, image and document
analyzers on a corpus generated with a fixed seed, plus the shared audio fixtures, with
PySceneDetect's AdaptiveDetector and ContentDetector run on the same videos.

Every measured run is its own process, so its peak RSS (the kernel's VmHWM, read by the
process itself) is its own. Throughput is media seconds per wall second, with the CPU
cores the process kept busy beside it, since the machine may be shared. The corpus is
cached in the work folder; generating it is not part of any figure.

    python bench/analyzers.py                          # the default run (about 10 minutes)
    python bench/analyzers.py --quick                  # a smoke run (about 3 minutes)
    python bench/analyzers.py --long-video-minutes 60  # also analyse a 1-hour 1080p file
    python bench/analyzers.py --rounds 3               # video speed: best of three runs each
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results" / "analyzers.json"
FIXTURES = ROOT.parent / "shared" / "fixtures"
SEED = 2024  # the detector was tuned on seeds 100-130; this corpus is not among them
FPS = 25
SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
CATEGORIES = ("cuts", "fades", "dissolves", "distractors")
PHASH_MAX = 8  # Hamming distance of 64-bit pHashes that counts as a copy
COSINE_MIN = 0.92  # visual-descriptor cosine that counts as a copy
FIXTURE_TRUTH = {"sorohanro_-_solo-trumpet-06.ogg": (90.0, "F")}  # its .txt: "in F 90 bpm"
KEYS = [
    ("C", "major"),
    ("A", "minor"),
    ("G", "major"),
    ("E", "minor"),
    ("D", "major"),
    ("B", "minor"),
    ("F", "major"),
    ("D", "minor"),
    ("A#", "major"),
    ("G", "minor"),
]
TEMPI = [72, 84, 90, 100, 110, 120, 128, 140, 150, 168]
PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


# --- corpus -------------------------------------------------------------------------


def _cached(path: Path, spec: dict, make) -> dict:
    """`make()` writes `path` and may return facts about it, unless a run with `spec`
    did already; the facts are kept beside the file."""
    meta = path.with_suffix(".json")
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    if path.exists() and meta.exists() and json.loads(meta.read_text()).get("key") == key:
        return json.loads(meta.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    made = make()
    facts = {"key": key, **(made if isinstance(made, dict) else {})}
    meta.write_text(json.dumps(facts))
    return facts


def simple_plan(rng: np.random.Generator, category: str, shots: int) -> list:
    """Transitions of one kind: hard cuts, dissolves of 8 to 50 frames, or fades of
    8 to 50 frames in turn out-and-in, out-then-cut and cut-then-in."""
    from dataflux_pipeline.cli.samples import Transition

    plan = []
    for k in range(shots - 1):
        if category == "cuts":
            plan.append(Transition("cut"))
            continue
        frames = int(rng.choice([8, 12, 20, 30, 50]))
        if category == "dissolves":
            plan.append(Transition("dissolve", frames))
            continue
        kind = ("fade", "fade_out", "fade_in")[k % 3]
        plan.append(Transition(kind, frames, 0 if kind == "fade_out" else int(rng.integers(7))))
    return plan


def make_video(work: Path, res: str, category: str, shots: int, preset: str) -> dict:
    from dataflux_pipeline.cli.samples import write_edit
    from dataflux_pipeline.cli.samples.edits import hard_edit

    seed = SEED + 100 * list(SIZES).index(res) + CATEGORIES.index(category)
    path = work / "video" / f"{res}_{category}.mp4"

    def make() -> dict:
        rng = np.random.default_rng(seed)
        if category == "distractors":
            lengths, plan, events = hard_edit(rng, shots)
        else:
            lengths = [int(n) for n in rng.integers(50, 111, shots)]
            plan, events = simple_plan(rng, category, shots), None
        palettes: list[int | None] = []
        for k in range(shots):  # some neighbours are two angles of one scene
            same = k and rng.random() < 0.3
            palettes.append(palettes[-1] if same else seed * 100 + k)
        truth = write_edit(
            path,
            lengths,
            plan,
            SIZES[res],
            FPS,
            seed,
            palettes=palettes,
            preset=preset,
            distractors=events,
        )
        frames = sum(lengths) - sum(t.frames for t in plan if t.kind == "dissolve")
        frames += sum(t.hold for t in plan if t.kind in ("fade", "fade_in"))
        return {"frames": frames, "truth": [[b.kind, b.start, b.end] for b in truth]}

    spec = {"res": res, "category": category, "shots": shots, "preset": preset, "seed": seed}
    return {"path": str(path), "res": res, "category": category} | _cached(path, spec, make)


def concat(src: Path, dst: Path, reps: int, frames: int) -> None:
    """`reps` copies of `src` back to back, by copying packets (no re-encode)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ins = inp.streams.video[0]
        ost = out.add_stream_from_template(ins)
        span = round(frames / FPS / ins.time_base)
        for r in range(reps):
            inp.seek(0)
            for packet in inp.demux(ins):
                if packet.dts is None:
                    continue
                packet.pts += r * span
                packet.dts += r * span
                packet.stream = ost
                out.mux(packet)


def make_long_videos(work: Path, minutes: list[int]) -> list[dict]:
    from dataflux_pipeline.cli.samples import Transition, write_edit

    base = work / "long" / "base_1080p.mp4"

    def make_base() -> dict:
        rng = np.random.default_rng(SEED + 7)
        lengths = [int(n) for n in rng.integers(60, 141, 16)]
        plan = [Transition("cut") if k % 4 else Transition("fade", 10, 2) for k in range(15)]
        write_edit(base, lengths, plan, SIZES["1080p"], FPS, SEED + 7, preset="ultrafast")
        return {"frames": sum(lengths) + sum(t.hold for t in plan)}

    facts = _cached(base, {"shots": 16, "seed": SEED + 7, "v": 1}, make_base)
    out = []
    for m in minutes:
        reps = max(1, math.ceil(m * 60 * FPS / facts["frames"]))
        path = work / "long" / f"long_{m}min.mp4"
        spec = {"base": facts["key"], "reps": reps}
        _cached(path, spec, lambda p=path, r=reps: concat(base, p, r, facts["frames"]))
        out.append({"path": str(path), "minutes": m, "seconds": reps * facts["frames"] / FPS})
    return out


def key_track(bpm: float, tonic: str, mode: str, seconds: float, sr: int = 22050) -> np.ndarray:
    """Clicks at `bpm` plus a melody on the beats and a held triad in the key."""
    from dataflux_pipeline.cli.samples import click_track, tone

    steps = [0, 2, 4, 5, 7, 9, 11] if mode == "major" else [0, 2, 3, 5, 7, 8, 10]
    root = 48 + PITCHES.index(tonic)

    def hz(midi: int) -> float:
        return 440.0 * 2 ** ((midi - 69) / 12)

    y = 0.6 * click_track(bpm, seconds, sr)
    for degree in (0, 2, 4):
        y += tone(hz(root + steps[degree]), seconds, sr, amplitude=0.06)
    beat = 60.0 / bpm
    pattern = [0, 4, 2, 0, 5, 4, 1, 0]
    n = int(0.6 * beat * sr)
    env = np.exp(-np.arange(n) / (0.25 * beat * sr)).astype(np.float32)
    for k in range(int(seconds / beat)):
        start = int(k * beat * sr)
        note = tone(hz(root + 12 + steps[pattern[k % 8]]), n / sr, sr, amplitude=0.2)
        end = min(len(y), start + len(note))
        y[start:end] += (note * env)[: end - start]
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


def make_audio(work: Path, count: int) -> list[dict]:
    from dataflux_pipeline.cli.samples import write_wav

    out = []
    for bpm, (tonic, mode) in list(zip(TEMPI, KEYS, strict=True))[:count]:
        path = work / "audio" / f"{bpm}bpm_{tonic}_{mode}.wav"
        spec = {"bpm": bpm, "tonic": tonic, "mode": mode, "v": 1}
        _cached(
            path, spec, lambda p=path, b=bpm, t=tonic, m=mode: write_wav(p, key_track(b, t, m, 30))
        )
        out.append({"path": str(path), "bpm": bpm, "tonic": tonic, "mode": mode})
    for f in sorted((FIXTURES / "audio").glob("*.ogg")) if FIXTURES.is_dir() else []:
        truth = FIXTURE_TRUTH.get(f.name)
        out.append(
            {
                "path": str(f),
                "fixture": True,
                "bpm": truth and truth[0],
                "tonic": truth and truth[1],
            }
        )
    return out


def make_images(work: Path, originals: int) -> list[dict]:
    """Originals (every pair sharing a palette: look-alikes, not copies) and, for every
    other original, its four edited copies; `family` says which are copies of which."""
    from dataflux_pipeline.cli.samples import NEAR_DUPLICATE_EDITS, near_duplicate, scene_image

    sizes = [(640, 480), (800, 600), (1024, 768)]
    out = []
    for n in range(originals):
        seed = SEED + 5000 + n
        path = work / "images" / f"img{n:03d}.jpg"

        def make(n=n, seed=seed, path=path) -> None:
            img = scene_image(seed, sizes[n % 3], palette=SEED + n // 2)
            img.save(path, quality=92)
            if n % 2 == 0:
                for edit in NEAR_DUPLICATE_EDITS:
                    near_duplicate(img, edit).save(
                        path.with_name(f"{path.stem}_{edit}.jpg"), quality=95
                    )

        _cached(path, {"seed": seed, "size": sizes[n % 3], "v": 1}, make)
        out.append({"path": str(path), "family": n})
        if n % 2 == 0:
            out += [
                {"path": str(path.with_name(f"{path.stem}_{e}.jpg")), "family": n}
                for e in NEAR_DUPLICATE_EDITS
            ]
    return out


def make_documents(work: Path, count: int) -> list[dict]:
    from dataflux_pipeline.cli.samples import ASTRONOMY_PAGES, write_pdf

    out = []
    for n in range(count):
        path = work / "docs" / f"doc{n:02d}.pdf"
        pages = [f"{p}\nPage {k} of document {n}." for k, p in enumerate(ASTRONOMY_PAGES * 3)]
        _cached(path, {"n": n, "v": 1}, lambda p=path, pg=pages: write_pdf(p, pg))
        out.append({"path": str(path)})
    return out


# --- workers: each runs in its own process --------------------------------------------


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t0, time.process_time() - c0


def _item(path: str, mime: str, store: Path):
    from dataflux_pipeline.analyzers import MediaItem

    return MediaItem(Path(path), hashlib.sha256(path.encode()).hexdigest()[:32], mime, store)


def work_dataflux(job: dict, settings) -> list[dict]:
    import av  # noqa: F401  (imported up front, as scenedetect's OpenCV is: not timed)
    from PIL import Image  # noqa: F401

    from dataflux_pipeline.analyzers.video.analyzer import VideoAnalyzer

    analyzer = VideoAnalyzer(settings)
    out = []
    for f in job["files"]:
        result, wall, cpu = _timed(lambda f=f: analyzer.run(_item(f, "video/mp4", settings.store)))
        shots = [s for s in result.segments if s.kind == "shot"]
        fps = result.metadata["fps"]
        cuts = [round(s.start_s * fps) for s in shots[1:]]
        out.append(
            {"file": f, "wall": wall, "cpu": cpu, "cuts": cuts, "vectors": len(result.vectors)}
        )
    return out


def work_scenedetect(job: dict, settings) -> list[dict]:
    from scenedetect import AdaptiveDetector, ContentDetector, detect

    make = {"adaptive": AdaptiveDetector, "content": ContentDetector}[job["detector"]]
    out = []
    for f in job["files"]:
        scenes, wall, cpu = _timed(lambda f=f: detect(f, make()))
        out.append(
            {"file": f, "wall": wall, "cpu": cpu, "cuts": [s[0].frame_num for s in scenes[1:]]}
        )
    return out


def work_decode(job: dict, settings) -> list[dict]:
    """The decoding alone: PyAV with FFmpeg's threads and no conversion (what the issue
    calls decoding alone), and DataFlux's own decode (its threads, scaled, no analysis)."""
    import av

    from dataflux_pipeline.analyzers.video.decode import decode
    from dataflux_pipeline.analyzers.video.frames import probe

    def pyav_pass(f: str) -> int:
        with av.open(f) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            return sum(1 for _ in container.decode(stream))

    def own_pass(f: str) -> int:
        s = settings
        chunks = decode(
            Path(f), probe(Path(f)), s.video_analysis_width, s.thumbnail_width, s.video_chunk_frames
        )
        return sum(len(c.frames) for c in chunks)

    out = []
    for f in job["files"]:
        _, wall, cpu = _timed(lambda f=f: own_pass(f))
        _, wall2, cpu2 = _timed(lambda f=f: pyav_pass(f))
        out.append({"file": f, "wall": wall, "cpu": cpu, "pyav_wall": wall2, "pyav_cpu": cpu2})
    return out


def work_audio(job: dict, settings) -> list[dict]:
    from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer

    analyzer = AudioAnalyzer(settings)
    out = []
    for f in job["files"]:
        mime = "audio/ogg" if f.endswith(".ogg") else "audio/wav"
        result, wall, cpu = _timed(lambda f=f, m=mime: analyzer.run(_item(f, m, settings.store)))
        track = next(s.segment_id for s in result.segments if s.kind == "track")
        row = next(r for r in result.features["features_audio"] if r["segment_id"] == track)
        out.append(
            {
                "file": f,
                "wall": wall,
                "cpu": cpu,
                "seconds": result.duration_s,
                "tempo": row["tempo_bpm"],
                "key": row["key"],
                "mode": row["mode"],
            }
        )
    return out


def work_image(job: dict, settings) -> list[dict]:
    from dataflux_pipeline.analyzers.image import ImageAnalyzer

    analyzer = ImageAnalyzer(settings)
    out = []
    for f in job["files"]:
        result, wall, cpu = _timed(lambda f=f: analyzer.run(_item(f, "image/jpeg", settings.store)))
        row = result.features["features_image"][0]
        out.append(
            {
                "file": f,
                "wall": wall,
                "cpu": cpu,
                "pixels": row["width"] * row["height"],
                "phash": row["phash"],
                "vector": result.vectors[0].vector,
            }
        )
    return out


def work_document(job: dict, settings) -> list[dict]:
    from dataflux_pipeline.analyzers.document import DocumentAnalyzer

    analyzer = DocumentAnalyzer(settings)
    out = []
    for f in job["files"]:
        item = _item(f, "application/pdf", settings.store)
        result, wall, cpu = _timed(lambda i=item: analyzer.run(i))
        pages = sum(1 for s in result.segments if s.kind == "page")
        out.append({"file": f, "wall": wall, "cpu": cpu, "pages": pages})
    return out


WORKERS = {
    "dataflux": work_dataflux,
    "scenedetect": work_scenedetect,
    "decode": work_decode,
    "audio": work_audio,
    "image": work_image,
    "document": work_document,
}


def worker_main(job_path: Path) -> None:
    from dataflux_pipeline.settings import Settings

    job = json.loads(job_path.read_text())
    settings = Settings(home=Path(job["home"]))
    items = WORKERS[job["worker"]](job, settings)
    status = Path("/proc/self/status").read_text()
    peak_kib = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
    )
    Path(job["out"]).write_text(json.dumps({"items": items, "peak_rss_mib": peak_kib / 1024}))


def spawn(work: Path, name: str, worker: str, files: list[str], **extra) -> dict:
    """Run a worker in a fresh process; its peak RSS is the kernel's high-water mark.

    The worker reads VmHWM itself: the `ru_maxrss` that `os.wait4` or RUSAGE_CHILDREN
    report would include this process's RSS at the fork, which Linux carries across exec.
    """
    jobs = work / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    job = {"worker": worker, "files": files, "home": str(work / "home" / name)}
    job |= extra | {"out": str(jobs / f"{name}.out.json")}
    (jobs / f"{name}.json").write_text(json.dumps(job))
    print(f"  {name}: {len(files)} files", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--worker", str(jobs / f"{name}.json")])
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        return {"error": f"exit status {proc.returncode}", "items": []}
    result = json.loads(Path(job["out"]).read_text())
    result["process_wall_s"] = time.perf_counter() - t0
    result["process_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    return result


# --- scoring and the table ----------------------------------------------------------


def matched(truth: list, found: list[int]) -> int:
    """Detections matched one-to-one to true boundaries: within 1 frame of a cut, or
    anywhere in a gradual transition (widened by 1 frame); nearest to the middle first."""
    spans = [(s - 1, s + 1) if kind == "cut" else (s - 1, e + 1) for kind, s, e in truth]
    pairs = sorted(
        (abs(f - (lo + hi) / 2), i, j)
        for i, (lo, hi) in enumerate(spans)
        for j, f in enumerate(found)
        if lo <= f <= hi
    )
    used_t, used_f = set(), set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    return len(used_t)


def prf(tp: int, truth: int, found: int) -> dict:
    p = tp / found if found else float(truth == 0)
    r = tp / truth if truth else 1.0
    return {
        "tp": tp,
        "truth": truth,
        "found": found,
        "p": p,
        "r": r,
        "f1": 2 * p * r / (p + r or 1),
    }


def shot_scores(videos: list[dict], runs: dict[str, dict]) -> dict:
    """P/R/F1 per detector and category (all resolutions together), and per resolution."""
    out: dict = {}
    for det, run in runs.items():
        cuts = {it["file"]: it["cuts"] for it in run["items"]}
        for v in videos:
            if v["path"] not in cuts:
                continue
            found = cuts[v["path"]]
            tp = matched(v["truth"], found)
            for key in (v["category"], f"{v['category']}@{v['res']}", f"all@{v['res']}"):
                acc = out.setdefault(det, {}).setdefault(key, [0, 0, 0])
                acc[0] += tp
                acc[1] += len(v["truth"])
                acc[2] += len(found)
    return {d: {k: prf(*acc) for k, acc in per.items()} for d, per in out.items()}


def rate(run: dict, seconds: float, wall_key: str = "wall", cpu_key: str = "cpu") -> dict:
    wall = sum(it[wall_key] for it in run["items"])
    cpu = sum(it[cpu_key] for it in run["items"])
    return {"x_realtime": seconds / wall if wall else 0.0, "cores": cpu / wall if wall else 0.0}


def fmt_prf(s: dict | None) -> str:
    return "n/a" if s is None else f"{s['p']:.2f} / {s['r']:.2f} / {s['f1']:.2f}"


def fmt_rate(r: dict) -> str:
    return f"{r['x_realtime']:.1f}x ({r['cores']:.1f} cores)"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "missed"


def image_scores(items: list[dict], families: dict[str, int]) -> dict:
    import imagehash

    hashes = [imagehash.hex_to_hash(it["phash"]) for it in items]
    vecs = np.array([it["vector"] for it in items])
    sims = vecs @ vecs.T
    fam = [families[it["file"]] for it in items]
    pos, phash_hit, cos_hit, both = [], [], [], []
    ham_pos, ham_neg, cos_pos, cos_neg = [], [], [], []
    for i, j in itertools.combinations(range(len(items)), 2):
        same, ham, cos = fam[i] == fam[j], hashes[i] - hashes[j], float(sims[i, j])
        pos.append(same)
        phash_hit.append(ham <= PHASH_MAX)
        cos_hit.append(cos >= COSINE_MIN)
        both.append(same)
        (ham_pos if same else ham_neg).append(ham)
        (cos_pos if same else cos_neg).append(cos)
    pos = np.array(pos)

    def pr(hit: list[bool]) -> dict:
        hit = np.array(hit)
        tp = int((hit & pos).sum())
        return prf(tp, int(pos.sum()), int(hit.sum()))

    return {
        "phash": pr(phash_hit) | {"max_copy": max(ham_pos), "min_other": min(ham_neg)},
        "visual": pr(cos_hit)
        | {
            "min_copy": min(cos_pos),
            "max_other": max(cos_neg),
            "mean_other": float(np.mean(cos_neg)),
        },
        "pairs": len(pos),
        "copy_pairs": int(pos.sum()),
    }


def build_table(res: dict) -> list[list[str]]:
    rows: list[list[str]] = []

    def add(metric: str, ours: str, adaptive="", content="", target="", status="") -> None:
        rows.append([metric, ours, adaptive, content, target, status])

    load = res["machine"]["load"]
    add("machine: CPUs, 1-min load average at start / end", f"{res['machine']['cpus']}, {load}")
    shots = res["shots"]
    names = {
        "cuts": "hard cuts (±1 frame)",
        "fades": "fades to/from black (overlap)",
        "dissolves": "cross-dissolves (overlap)",
        "distractors": "flashes, whip pans, shakes, fast objects; 4-60 frame fades/dissolves",
    }
    for cat in CATEGORIES:
        df, ad, co = (shots.get(d, {}).get(cat) for d in ("dataflux", "adaptive", "content"))
        ok = None if df is None or ad is None else df["f1"] >= ad["f1"]
        target = {"dissolves": "", "distractors": "F1 ≥ 0.9 and ≥ Adaptive"}.get(
            cat, "F1 ≥ Adaptive"
        )
        if cat == "distractors" and ok is not None:
            ok = ok and df["f1"] >= 0.9
        add(
            f"shots: {names[cat]} P / R / F1",
            fmt_prf(df),
            fmt_prf(ad),
            fmt_prf(co),
            target,
            verdict(ok) if target else "",
        )
    for r, sp in res["video_speed"].items():
        df, ad, co = (shots.get(d, {}).get(f"all@{r}") for d in ("dataflux", "adaptive", "content"))
        ok = None if df is None or ad is None else df["f1"] >= ad["f1"]
        add(f"shots {r}, all four sets: P / R / F1", fmt_prf(df), fmt_prf(ad), fmt_prf(co))
        rows[-1][-2:] = ["F1 ≥ Adaptive", verdict(ok)]
        speeds = [fmt_rate(sp[k]) for k in ("dataflux", "adaptive", "content")]
        add(f"video {r}: media-s per wall-s (best of {sp['rounds']})", *speeds)
        ratios = [f"{sp['ratio_adaptive']:.2f}x", f"{sp['ratio_content']:.2f}x"]
        ok = sp["ratio_adaptive"] >= 1.5
        add(f"video {r}: DataFlux speed / theirs", "", *ratios, "≥ 1.5x Adaptive", verdict(ok))
        decode = f"PyAV alone {fmt_rate(sp['pyav'])}; DataFlux's decode {fmt_rate(sp['decode'])}"
        add(f"video {r}: decoding alone", decode, target="bounds DataFlux")
    for name, a in res["audio"].items():
        if "error" in a:
            add(f"audio ({name})", a["error"])
            continue
        add(f"audio ({name}): media-s per wall-s", fmt_rate(a["speed"]), target="≥ 50x")
        rows[-1][-1] = verdict(a["speed"]["x_realtime"] >= 50)
        if name == "generated":
            add("audio tempo within 2% (generated)", f"{a['tempo_ok']}/{a['n']}")
            add("audio key and mode (generated)", f"{a['key_ok']}/{a['n']}, tonic {a['tonic_ok']}")
            continue
        for it in a["items"]:
            truth = f" (truth {it['truth']})" if it["truth"] else ""
            add(
                f"fixture {Path(it['file']).name}",
                f"{it['tempo']} BPM, {it['key']} {it['mode']}{truth}",
            )
    img = res.get("images", {})
    if "scores" in img:
        add("images: images per wall-s", f"{img['per_s']:.1f} ({img['mp_per_s']:.1f} MP/s)")
        ph, vi = img["scores"]["phash"], img["scores"]["visual"]
        add(
            f"near-duplicates, pHash Hamming ≤ {PHASH_MAX}: P / R",
            f"{ph['p']:.2f} / {ph['r']:.2f} "
            f"(copies ≤ {ph['max_copy']}, others ≥ {ph['min_other']})",
        )
        add(
            f"near-duplicates, visual cosine ≥ {COSINE_MIN}: P / R",
            f"{vi['p']:.2f} / {vi['r']:.2f} (copies ≥ {vi['min_copy']:.3f}, "
            f"others ≤ {vi['max_other']:.3f}, mean {vi['mean_other']:.2f})",
        )
    if "pages_per_s" in res.get("documents", {}):
        add("documents (PDF): pages per wall-s", f"{res['documents']['pages_per_s']:.1f}")
    for name, mib in res["peak_rss_mib"].items():
        add(f"peak RSS: {name}", f"{mib:.0f} MiB")
    long = res.get("long")
    if long:
        for it in long["items"]:
            add(
                f"peak RSS: 1080p video of {it['seconds'] / 60:.1f} min",
                f"{it['peak_rss_mib']:.0f} MiB (at {it['x_realtime']:.1f}x real time)",
            )
        mib = long["projected_60min_mib"]
        shown = "n/a" if mib is None else f"{mib:.0f} MiB"
        ok = None if mib is None else mib < 1536
        add(long["label"], shown, "", "", "< 1.5 GiB", verdict(ok))
    return rows


def markdown(rows: list[list[str]]) -> str:
    head = [
        "metric",
        "DataFlux",
        "PySceneDetect Adaptive",
        "PySceneDetect Content",
        "target",
        "status",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# --- the run --------------------------------------------------------------------------


def run_video(work: Path, quick: bool, rounds: int, res: dict) -> list[dict]:
    """Every resolution's files through DataFlux, both PySceneDetect detectors and the
    decoders alone, `rounds` times in turn; each keeps its fastest round, the one least
    disturbed by whatever else the machine was doing."""
    resolutions = ["480p", "720p"] if quick else list(SIZES)
    videos = []
    for r in resolutions:
        shots = 8 if quick or r == "1080p" else 12
        print(f"corpus: {r} videos", file=sys.stderr, flush=True)
        videos += [make_video(work, r, c, shots, "veryfast") for c in CATEGORIES]
    tools = {
        "dataflux": ("dataflux", {}),
        "adaptive": ("scenedetect", {"detector": "adaptive"}),
        "content": ("scenedetect", {"detector": "content"}),
        "decode": ("decode", {}),
    }
    runs: dict[str, dict] = {k: {"items": []} for k in tools}
    res["video_speed"], res["peak_rss_mib"] = {}, {}
    for r in resolutions:
        files = [v["path"] for v in videos if v["res"] == r]
        seconds = sum(v["frames"] for v in videos if v["res"] == r) / FPS
        best: dict[str, dict] = {}
        for k in range(rounds):
            for name, (worker, extra) in tools.items():
                got = spawn(work, f"{name}_{r}_{k}", worker, files, **extra)
                wall = sum(it["wall"] for it in got["items"])
                if name not in best or wall < sum(it["wall"] for it in best[name]["items"]):
                    best[name] = got
        for k, v in best.items():
            runs[k]["items"] += v["items"]
        speed = {k: rate(best[k], seconds) for k in ("dataflux", "adaptive", "content")}
        speed["decode"] = rate(best["decode"], seconds)
        speed["pyav"] = rate(best["decode"], seconds, "pyav_wall", "pyav_cpu")
        speed["ratio_adaptive"] = speed["dataflux"]["x_realtime"] / speed["adaptive"]["x_realtime"]
        speed["ratio_content"] = speed["dataflux"]["x_realtime"] / speed["content"]["x_realtime"]
        speed |= {"media_s": seconds, "rounds": rounds}
        speed["load"] = {k: v["load"] for k, v in best.items()}
        res["video_speed"][r] = speed
        res["peak_rss_mib"][f"video analyzer, {r} corpus"] = best["dataflux"]["peak_rss_mib"]
        res["peak_rss_mib"][f"PySceneDetect Adaptive, {r} corpus"] = best["adaptive"][
            "peak_rss_mib"
        ]
    del runs["decode"]
    res["shots"] = shot_scores(videos, runs)
    res["video_detail"] = {k: v["items"] for k, v in runs.items()}
    return videos


def run_audio(work: Path, quick: bool, res: dict) -> None:
    print("corpus: audio", file=sys.stderr, flush=True)
    files = make_audio(work, 4 if quick else len(TEMPI))
    res["audio"] = {}
    for name, group in (
        ("generated", [f for f in files if not f.get("fixture")]),
        ("fixtures", [f for f in files if f.get("fixture")]),
    ):
        if not group:
            continue
        run = spawn(work, f"audio_{name}", "audio", [f["path"] for f in group])
        if run.get("error"):
            res["audio"][name] = {"error": run["error"]}
            continue
        seconds = sum(it["seconds"] for it in run["items"])
        entry: dict = {"speed": rate(run, seconds), "n": len(group), "items": []}
        tempo_ok = key_ok = tonic_ok = 0
        for spec, it in zip(group, run["items"], strict=True):
            tempo = it["tempo"]
            good_tempo = bool(
                spec["bpm"] and tempo and abs(tempo - spec["bpm"]) <= 0.02 * spec["bpm"]
            )
            tempo_ok += good_tempo
            tonic_ok += it["key"] == spec["tonic"]
            key_ok += it["key"] == spec["tonic"] and it["mode"] == spec.get("mode")
            truth = f"{spec['bpm']:.0f} BPM, {spec['tonic']}" if spec.get("bpm") else None
            entry["items"].append(
                {
                    "file": it["file"],
                    "tempo": None if tempo is None else round(tempo, 1),
                    "key": it["key"],
                    "mode": it["mode"],
                    "truth": truth,
                    "tempo_ok": good_tempo,
                }
            )
        entry |= {"tempo_ok": tempo_ok, "key_ok": key_ok, "tonic_ok": tonic_ok}
        res["audio"][name] = entry
        res["peak_rss_mib"][f"audio analyzer, {name}"] = run["peak_rss_mib"]


def run_images(work: Path, quick: bool, res: dict) -> None:
    print("corpus: images", file=sys.stderr, flush=True)
    files = make_images(work, 24 if quick else 48)
    run = spawn(work, "image", "image", [f["path"] for f in files])
    if run.get("error"):
        res["images"] = {"error": run["error"]}
        return
    wall = sum(it["wall"] for it in run["items"])
    res["images"] = {
        "n": len(files),
        "per_s": len(files) / wall,
        "mp_per_s": sum(it["pixels"] for it in run["items"]) / 1e6 / wall,
        "scores": image_scores(run["items"], {f["path"]: f["family"] for f in files}),
    }
    res["peak_rss_mib"]["image analyzer"] = run["peak_rss_mib"]


def run_documents(work: Path, quick: bool, res: dict) -> None:
    try:
        files = make_documents(work, 4 if quick else 12)
    except ImportError as exc:  # reportlab is a dev extra
        res["documents"] = {"error": str(exc)}
        return
    run = spawn(work, "document", "document", [f["path"] for f in files])
    if run.get("error"):
        res["documents"] = {"error": run["error"]}
        return
    wall = sum(it["wall"] for it in run["items"])
    res["documents"] = {"pages_per_s": sum(it["pages"] for it in run["items"]) / wall}
    res["peak_rss_mib"]["document analyzer"] = run["peak_rss_mib"]


def run_long(work: Path, minutes: list[int], res: dict) -> None:
    print(f"corpus: 1080p videos of {minutes} minutes", file=sys.stderr, flush=True)
    items = []
    for v in make_long_videos(work, minutes):
        run = spawn(work, f"long_{v['minutes']}min", "dataflux", [v["path"]])
        wall = sum(it["wall"] for it in run["items"])
        items.append(
            {
                "minutes": v["minutes"],
                "seconds": v["seconds"],
                "peak_rss_mib": run["peak_rss_mib"],
                "x_realtime": v["seconds"] / wall,
            }
        )
    res["long"] = {"items": items}
    longest = max(items, key=lambda it: it["seconds"])
    if longest["seconds"] >= 3600:
        res["long"]["label"] = "peak RSS: 1080p, 1 hour (measured)"
        res["long"]["projected_60min_mib"] = longest["peak_rss_mib"]
        return
    if longest["seconds"] < 300:  # the first minutes fill decoder buffers and arenas
        res["long"]["label"] = "peak RSS: 1080p, 1 hour (runs too short to project)"
        res["long"]["projected_60min_mib"] = None
        return
    # then memory should be flat: project from the two longest runs
    a, b = sorted(items, key=lambda it: it["seconds"])[-2:]
    minutes = (b["seconds"] - a["seconds"]) / 60
    slope = max(0.0, (b["peak_rss_mib"] - a["peak_rss_mib"]) / minutes) if minutes else 0.0
    res["long"]["slope_mib_per_min"] = slope
    res["long"]["label"] = (
        f"peak RSS: 1080p, 1 hour (projected from the {a['seconds'] / 60:.1f} and "
        f"{b['seconds'] / 60:.1f} min runs: +{slope:.1f} MiB/min)"
    )
    res["long"]["projected_60min_mib"] = b["peak_rss_mib"] + slope * (60 - b["seconds"] / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller files")
    parser.add_argument(
        "--long-video-minutes", type=int, default=None, help="also analyse a 1080p video this long"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="video speed: runs per tool, the fastest kept"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/dataflux-bench-analyzers"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return
    started = time.perf_counter()
    res: dict = {"command": " ".join(["python bench/analyzers.py", *sys.argv[1:]])}
    load_start = round(os.getloadavg()[0], 2)
    run_video(args.work, args.quick, args.rounds, res)
    run_audio(args.work, args.quick, res)
    run_images(args.work, args.quick, res)
    run_documents(args.work, args.quick, res)
    minutes = [1, 2] if args.quick else [1, 3, 6]
    if args.long_video_minutes and args.long_video_minutes not in minutes:
        minutes.append(args.long_video_minutes)
    run_long(args.work, minutes, res)
    res["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load": f"{load_start} / {round(os.getloadavg()[0], 2)}",
    }
    rows = build_table(res)
    table = markdown(rows)
    res["table"] = rows
    res["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(res, indent=1, default=str) + "\n"
    # fixtures are named as the repository sees them and generated media by its place in
    # the work folder, not by this machine's paths
    text = text.replace(f'"{ROOT.parent}/', '"../').replace(f'"{args.work.resolve()}/', '"')
    args.out.write_text(text)
    print(table)
    print(f"\n{res['command']}: {res['wall_s']} s; results in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
