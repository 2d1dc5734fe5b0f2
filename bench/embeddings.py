"""Embedding throughput and peak memory: DataFlux's embedders beside sentence-transformers.

Each (implementation, batch size) runs in a fresh process, so peak RSS is its own. Text:
DataFlux `TextEmbedder.encode` vs `SentenceTransformer.encode` on the same texts with the
same model folder. Images: DataFlux `ClipEmbedder.encode_images` on a CLIP ViT-B/32-shaped
model with random weights (no CLIP weights can be downloaded here; speed depends on the
architecture, not the weights).

    python bench/embeddings.py                 # CPU, batch sizes 1..256
    python bench/embeddings.py --device cuda   # on a GPU host
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "embeddings.json"
WORDS = [
    "whale",
    "song",
    "ocean",
    "harbour",
    "storm",
    "bread",
    "oven",
    "flour",
    "planet",
    "orbit",
    "saturn",
    "ring",
    "ice",
    "rock",
    "budget",
    "meeting",
    "finance",
    "report",
    "camera",
    "sunset",
    "beach",
    "music",
    "trumpet",
    "tempo",
    "melody",
    "city",
    "train",
    "station",
    "river",
    "bridge",
    "mountain",
    "forest",
    "snow",
    "winter",
    "summer",
    "garden",
    "flower",
]


def texts(n: int, seed: int = 0) -> list[str]:
    """Sentences of 4 to 60 words, like subtitle cues and document chunks."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(4, 60))) for _ in range(n)]


def worker(impl: str, batch: int, n: int, device: str, clip_dir: str | None) -> dict:
    from dataflux_pipeline.settings import Settings

    model = Settings().text_model
    data = texts(n)
    if impl == "sentence-transformers":
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model, device=device)

        def run():
            return st.encode(data, batch_size=batch, normalize_embeddings=True)

    elif impl == "dataflux-text":
        from dataflux_pipeline.models.text import TextEmbedder

        emb = TextEmbedder(model, device=device, batch_size=batch)

        def run():
            return emb.encode(data)

    else:
        from PIL import Image

        from dataflux_pipeline.models.clip import ClipEmbedder

        emb = ClipEmbedder(clip_dir, device=device, batch_size=batch)
        folder = Path(tempfile.mkdtemp())
        rng = np.random.default_rng(0)
        paths = []
        for i in range(n):
            path = folder / f"{i}.jpg"
            Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(path)
            paths.append(path)

        def run():
            return emb.encode_images(paths)

    run()  # warm-up: first-call allocations and lazy init are not throughput
    t0 = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "impl": impl,
        "batch": batch,
        "items": len(out),
        "items_per_s": round(len(out) / seconds, 1),
        "peak_rss_mb": round(peak_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="texts per measurement")
    parser.add_argument("--image-n", type=int, default=64, help="images per measurement")
    parser.add_argument("--batches", default="1,8,32,64,128,256")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2, help="runs per text configuration")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--clip-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        impl, batch, n = args.worker
        print(json.dumps(worker(impl, int(batch), int(n), args.device, args.clip_dir)))
        return
    batches = [int(b) for b in args.batches.split(",")]
    from dataflux_pipeline.models.scaffold import random_clip

    clip_dir = random_clip(Path(tempfile.mkdtemp(prefix="clip-b32-")), tiny=False)
    rows = []
    # the two text implementations alternate per batch size, twice, best run kept, so
    # load from anything else on the machine hits both alike
    plan = [
        (impl, b, args.n)
        for b in batches
        for _ in range(args.repeats)
        for impl in ("dataflux-text", "sentence-transformers")
    ]
    plan += [("dataflux-clip-image", b, args.image_n) for b in batches if b <= 64]
    best: dict[tuple[str, int], dict] = {}
    for impl, batch, n in plan:
        cmd = [
            sys.executable,
            __file__,
            "--device",
            args.device,
            "--clip-dir",
            str(clip_dir),
            "--worker",
            impl,
            str(batch),
            str(n),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        if (impl, batch) not in best or row["items_per_s"] > best[impl, batch]["items_per_s"]:
            best[impl, batch] = row
        print(f"  {impl:<22} batch {batch:>3}: {row['items_per_s']:>8} items/s", flush=True)
    rows = sorted(best.values(), key=lambda r: (r["impl"], r["batch"]))
    st = {r["batch"]: r["items_per_s"] for r in rows if r["impl"] == "sentence-transformers"}
    for r in rows:
        if r["impl"] == "dataflux-text":
            r["ratio_vs_st"] = round(r["items_per_s"] / st[r["batch"]], 3)
    print(f"\n{'impl':<22}{'batch':>6}{'items/s':>10}{'peak MB':>9}{'vs ST':>7}")
    for r in rows:
        ratio = f"{r['ratio_vs_st']:.2f}" if "ratio_vs_st" in r else ""
        print(
            f"{r['impl']:<22}{r['batch']:>6}{r['items_per_s']:>10}{r['peak_rss_mb']:>9}{ratio:>7}"
        )
    import torch

    device = torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "device": args.device,
                "device_name": device or platform.machine(),
                "torch_threads": torch.get_num_threads(),
                "texts": args.n,
                "images": args.image_n,
                "load_average_after": os.getloadavg(),
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
