"""Models bench (issue 16): the vision and speech models against their peers, on data
generated with fixed seeds and the shared audio fixtures.

- OCR: character error rate on generated pictures of text (several fonts and sizes, up
  to 10 degrees of rotation, blur, noise, text over photographs, one to three lines),
  RapidOCR against Tesseract on the same pictures, and seconds per picture for both.
- Voice activity: frame-level F1 on clips spliced from the LibriSpeech reader, music,
  whale song and silence at known offsets, Silero against the cue vote it replaces.
- Tags, faces, safety: seconds per picture and peak memory, each model in its own process.
- Faces: clustering purity and pairwise recall on the real faces the installed packages
  hold (scikit-image's astronaut and cameraman), each augmented.
- Speech to text (with the whisper-base extra): word error rate and real-time factor.
- What each extra adds to analyzing an image and a minute of video.

    .venv/bin/python bench/models.py                 # about 15 minutes on 2 cores
    .venv/bin/python bench/models.py --ocr-images 40 --clips 4   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results" / "models.json"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "audio"
OCR_SEED = 1000  # the OCR tests use seeds 0-7; these pictures are not among them
VAD_SEED = 100  # Silero's region thresholds were chosen on seeds 10-29
FRAME_S = 0.1
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "camera")


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


# --- OCR ------------------------------------------------------------------------------
def bench_ocr(n: int) -> dict:
    import pytesseract

    from dataflux_pipeline.cli.samples.photos import photo
    from dataflux_pipeline.cli.samples.scoring import character_error_rate
    from dataflux_pipeline.cli.samples.text_images import font_files, text_image
    from dataflux_pipeline.models.ocr import load_ocr

    fonts, backgrounds = font_files(), [photo(p) for p in PHOTOS]
    samples = [text_image(OCR_SEED + i, fonts, backgrounds) for i in range(n)]
    rapid = load_ocr("cpu")
    rapid.read(np.asarray(samples[0].image))  # first-call setup is not a picture's cost

    def rapid_read(img):
        return "\n".join(line.text for line in rapid.read(np.asarray(img)))

    engines = {
        "rapidocr": rapid_read,
        "tesseract-psm3": lambda img: pytesseract.image_to_string(img, config="--psm 3"),
        "tesseract-psm6": lambda img: pytesseract.image_to_string(img, config="--psm 6"),
    }
    out: dict = {"images": n, "fonts": len(fonts), "engines": {}}
    for name, read in engines.items():
        rates, seconds = [], []
        for s in samples:
            t0 = time.perf_counter()
            found = read(s.image)
            seconds.append(time.perf_counter() - t0)
            rates.append(character_error_rate(s.text, found))
        rates_a = np.array(rates)
        by = {
            "paper": [r for r, s in zip(rates, samples, strict=True) if not s.over_photo],
            "over photo": [r for r, s in zip(rates, samples, strict=True) if s.over_photo],
            "size <= 20 px": [r for r, s in zip(rates, samples, strict=True) if s.size <= 20],
        }
        out["engines"][name] = {
            "cer": float(rates_a.mean()),
            "cer_median": float(np.median(rates_a)),
            "exact_share": float((rates_a == 0).mean()),
            "seconds_per_image": float(np.mean(seconds)),
            "by_condition": {k: float(np.mean(v)) for k, v in by.items() if v},
        }
    if platform.system() == "Linux":
        out["tesseract_version"] = str(pytesseract.get_tesseract_version())
    return out


# --- voice activity -------------------------------------------------------------------
def bench_vad(clips: int, work: Path) -> dict:
    from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer
    from dataflux_pipeline.analyzers.base import MediaItem
    from dataflux_pipeline.cli.samples import write_wav
    from dataflux_pipeline.cli.samples.speech_clips import (
        NOT_SPEECH,
        SAMPLE_RATE,
        SPEECH,
        f1,
        frames_of,
        load,
        regions_mask,
        spliced_clip,
    )
    from dataflux_pipeline.settings import Settings

    speech, others = load(FIXTURES / SPEECH), [load(FIXTURES / n) for n in NOT_SPEECH]
    scores: dict[str, list[float]] = {"silero": [], "cues 10 s": [], "cues 2 s": []}
    seconds: dict[str, float] = dict.fromkeys(scores, 0.0)
    total = 0.0
    for k in range(clips):
        clip, truth = spliced_clip(VAD_SEED + k, speech, others)
        total += len(clip) / SAMPLE_RATE
        path = write_wav(work / f"clip{k}.wav", clip, sr=SAMPLE_RATE)
        frames = frames_of(truth, SAMPLE_RATE, FRAME_S)
        for name, knobs in (
            ("silero", {"vad": True}),
            ("cues 10 s", {"vad": False, "audio_window_s": 10.0}),
            ("cues 2 s", {"vad": False, "audio_window_s": 2.0}),
        ):
            analyzer = AudioAnalyzer(Settings(home=work, device="cpu", **knobs))
            t0 = time.perf_counter()
            result = analyzer.run(MediaItem(path, "c" * 64, "audio/wav", work / "store"))
            seconds[name] += time.perf_counter() - t0
            if name == "silero":
                spans = [(s.start_s, s.end_s) for s in result.segments if s.kind == "speech"]
            else:
                rows = {
                    r["segment_id"]: r["audio_class"] for r in result.features["features_audio"]
                }
                spans = [
                    (s.start_s, s.end_s)
                    for s in result.segments
                    if s.kind == "window" and rows[s.segment_id] == "speech"
                ]
            scores[name].append(f1(frames, regions_mask(spans, len(frames), FRAME_S)))
    return {
        "clips": clips,
        "audio_seconds": total,
        "f1": {k: float(np.mean(v)) for k, v in scores.items()},
        "f1_min": {k: float(np.min(v)) for k, v in scores.items()},
        "analysis_rtf": {k: total / v for k, v in seconds.items()},
    }


# --- per-model throughput and memory (each in its own process) -------------------------
def child(name: str) -> dict:
    from dataflux_pipeline.cli.samples.photos import photo, sign_photo

    images = [photo(p) for p in PHOTOS] + [sign_photo()]
    images = (images * 4)[:24]
    base = rss_mib("VmRSS")
    t0 = time.perf_counter()
    if name == "tags":
        from dataflux_pipeline.models.mobilenet import load_tagger

        model = load_tagger("cpu")
        run = model.tag
    elif name == "safety":
        from dataflux_pipeline.models.nsfw import load_nsfw

        model = load_nsfw("cpu")
        run = model.score
    elif name == "faces":
        from dataflux_pipeline.models.faces import load_face_detector

        model = load_face_detector("cpu")

        def run(batch):
            return [model.detect(np.asarray(im)) for im in batch]
    elif name == "face embeddings":
        from dataflux_pipeline.models.faces import load_face_embedder

        model = load_face_embedder("cpu")
        crops = [np.asarray(im.resize((160, 160))) for im in images]

        def run(_batch):
            return model.embed(crops)
    else:
        from dataflux_pipeline.models.ocr import load_ocr

        model = load_ocr("cpu")

        def run(batch):
            return [model.read(np.asarray(im)) for im in batch]

    run(images[:2])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run(images)
    per = (time.perf_counter() - t0) / len(images)
    return {
        "seconds_per_image": per,
        "load_and_first_s": load_s,
        "peak_rss_mib": rss_mib("VmHWM"),
        "added_rss_mib": rss_mib("VmHWM") - base,
        "version": model.version,
    }


def bench_throughput() -> dict:
    out = {}
    for name in ("tags", "safety", "faces", "face embeddings", "ocr"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name], capture_output=True, text=True
        )
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# --- faces into people --------------------------------------------------------------
def augment(img, rng):
    import io

    from PIL import Image, ImageEnhance

    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = img.rotate(float(rng.uniform(-10, 10)), resample=Image.BICUBIC)
    scale = float(rng.uniform(0.5, 1.3))
    img = img.resize((int(img.width * scale), int(img.height * scale)))
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.6, 1.4)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(30, 90)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def bench_people(per_identity: int) -> dict:
    from dataflux_pipeline.analyzers.vision.people import People, clustering_scores
    from dataflux_pipeline.cli.samples.photos import photo
    from dataflux_pipeline.models.faces import face_crop, load_face_detector, load_face_embedder

    detector, embedder = load_face_detector("cpu"), load_face_embedder("cpu")
    rng = np.random.default_rng(7)
    truth, crops, missed = [], [], 0
    for identity in ("astronaut", "camera"):
        for _ in range(per_identity):
            rgb = np.asarray(augment(photo(identity), rng))
            faces = detector.detect(rgb)
            if not faces:
                missed += 1
                continue
            truth.append(identity)
            crops.append(face_crop(rgb, faces[0].box))
    vectors = embedder.embed(crops)
    ids = [f"f{i:03d}" for i in range(len(crops))]
    out = {"identities": 2, "augmented_pictures": 2 * per_identity, "faces_missed": missed}
    for threshold in (0.5, 0.6, 0.7):
        assigned = People(threshold=threshold).assign(ids, vectors)
        out[f"threshold {threshold}"] = clustering_scores(truth, [assigned[i] for i in ids])
    same = [
        float(vectors[i] @ vectors[j])
        for i in range(len(ids))
        for j in range(i)
        if truth[i] == truth[j]
    ]
    other = [
        float(vectors[i] @ vectors[j])
        for i in range(len(ids))
        for j in range(i)
        if truth[i] != truth[j]
    ]
    out["cosine_same_min_mean"] = (min(same), float(np.mean(same)))
    out["cosine_other_max_mean"] = (max(other), float(np.mean(other)))
    return out


# --- speech to text -------------------------------------------------------------------
def bench_stt(work: Path) -> dict | None:
    from dataflux_pipeline.cli.samples.scoring import word_error_rate
    from dataflux_pipeline.cli.samples.speech_clips import (
        SPEECH,
        SPEECH_TEXT,
        load,
    )
    from dataflux_pipeline.models.faster_whisper import load_faster_whisper, packaged_folder

    folder = packaged_folder(work / "whisper-base")
    if folder is None:
        return None
    audio = load(FIXTURES / SPEECH)
    model = load_faster_whisper(str(folder), "cpu")
    model.transcribe([audio[:16000]])
    t0 = time.perf_counter()
    text = " ".join(p.text for p in model.transcribe([audio])[0])
    wall = time.perf_counter() - t0
    return {
        "model": "whisper-base (CTranslate2 int8)",
        "wer": word_error_rate(SPEECH_TEXT, text),
        "rtf": wall / (len(audio) / 16000),
        "text": text,
    }


# --- what each extra costs ------------------------------------------------------------
def bench_cost(work: Path) -> dict:
    from dataflux_pipeline.analyzers import MediaItem, analyze_file, default_registry
    from dataflux_pipeline.cli.samples import Shot, write_video
    from dataflux_pipeline.cli.samples.photos import photo
    from dataflux_pipeline.settings import Settings

    image = work / "photo.jpg"
    photo("chelsea").resize((1600, 1064)).save(image, quality=90)
    video = work / "minute.mp4"
    shots = [
        Shot(125, tuple(int(c) for c in np.random.default_rng(i).integers(0, 255, 3)))
        for i in range(12)
    ]
    write_video(video, shots, size=(640, 360))
    off = {
        "ocr": False,
        "image_tags": False,
        "face_detection": False,
        "safety": False,
        "vad": False,
    }
    configs = {"none": off} | {k: off | {k: True} for k in off}
    out: dict = {}
    for label, path, mime in (("image", image, "image/jpeg"), ("video minute", video, "video/mp4")):
        for name, knobs in configs.items():
            registry = default_registry(Settings(home=work, device="cpu", **knobs))
            item = MediaItem(path, "d" * 64, mime, work / "store")
            analyze_file(item, registry)  # models loaded, caches warm
            runs = []
            for _ in range(3):  # the best of three: the least disturbed by anything else
                t0 = time.perf_counter()
                analyze_file(item, registry)
                runs.append(time.perf_counter() - t0)
            out.setdefault(label, {})[name] = min(runs)
    return out


def table(rows: list[list], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(r: dict) -> str:
    parts = []
    o = r["ocr"]
    parts.append(f"OCR, {o['images']} generated pictures, {o['fonts']} fonts")
    parts.append(
        table(
            [
                [
                    n,
                    f"{e['cer']:.3f}",
                    f"{e['cer_median']:.3f}",
                    f"{e['exact_share']:.2f}",
                    *(
                        f"{e['by_condition'].get(k, float('nan')):.3f}"
                        for k in ("paper", "over photo", "size <= 20 px")
                    ),
                    f"{e['seconds_per_image']:.2f}",
                ]
                for n, e in o["engines"].items()
            ],
            ["engine", "CER", "median", "exact", "paper", "over photo", "<= 20 px", "s/picture"],
        )
    )
    v = r["vad"]
    parts.append(
        f"Voice activity, {v['clips']} spliced clips, {v['audio_seconds']:.0f} s, "
        f"frames of {FRAME_S} s"
    )
    parts.append(
        table(
            [
                [k, f"{v['f1'][k]:.3f}", f"{v['f1_min'][k]:.3f}", f"{v['analysis_rtf'][k]:.0f}x"]
                for k in v["f1"]
            ],
            ["method", "F1", "worst clip", "audio analysis speed"],
        )
    )
    parts.append("Per model, CPU, 24 pictures (photos 300-640 px and a sign)")
    parts.append(
        table(
            [
                [
                    k,
                    f"{m['seconds_per_image'] * 1000:.0f}",
                    f"{m['load_and_first_s']:.1f}",
                    f"{m['peak_rss_mib']:.0f}",
                    f"{m['added_rss_mib']:.0f}",
                ]
                for k, m in r["throughput"].items()
            ],
            ["model", "ms/picture", "load + first s", "peak RSS MiB", "added MiB"],
        )
    )
    p = r["people"]
    parts.append(
        f"Faces into people: {p['identities']} identities, {p['augmented_pictures']} "
        f"augmented pictures, {p['faces_missed']} faces missed"
    )
    parts.append(
        table(
            [
                [k, f"{s['purity']:.3f}", f"{s['pairwise_recall']:.3f}", int(s["clusters"])]
                for k, s in p.items()
                if k.startswith("threshold")
            ],
            ["", "purity", "pairwise recall", "clusters"],
        )
    )
    if r.get("stt"):
        parts.append(
            f"Speech to text: {r['stt']['model']}: WER {r['stt']['wer']:.3f}, "
            f"RTF {r['stt']['rtf']:.3f}"
        )
    c = r["cost"]
    rows = [
        [name, *(f"{(c[m][name] - c[m]['none']) * 1000:+.0f}" for m in c)]
        for name in c["image"]
        if name != "none"
    ]
    parts.append(
        table(
            [["none (base analysis)", *(f"{c[m]['none'] * 1000:.0f}" for m in c)], *rows],
            ["enricher on", *(f"{m} ms" for m in c)],
        )
    )
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ocr-images", type=int, default=200)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--faces-per-identity", type=int, default=12)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = {
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
            "ocr": bench_ocr(args.ocr_images),
            "vad": bench_vad(args.clips, work),
            "throughput": bench_throughput(),
            "people": bench_people(args.faces_per_identity),
            "stt": bench_stt(work),
            "cost": bench_cost(work),
        }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(report(results))


if __name__ == "__main__":
    main()
