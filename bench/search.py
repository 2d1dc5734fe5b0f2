"""Search benchmark: a synthetic index of N segments, the real service in its own process,
driven over HTTP; exact NumPy and FAISS flat search over the same vectors as the peer.

Vectors are 384-d and unit length, drawn around MiniLM embeddings of generated topic
phrases (a mixture of two topics plus noise), so real MiniLM query embeddings land in
populated regions the way they do on a real catalog; uniform random vectors would make
every ANN index look worse than it is. Rows are written with the project's Index
(merge-insert in 100k batches) and indexed with its own create_fts/create_ann.

    .venv/bin/python bench/search.py                # 1,000,000 segments (about 30 min)
    .venv/bin/python bench/search.py --n 100000 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataflux_pipeline.settings import Settings  # noqa: E402
from dataflux_pipeline.storage.index import RANK_COLUMNS, IndexReader, IndexTuning, IndexWriter  # noqa: E402
from dataflux_pipeline.storage.tables import TableStore  # noqa: E402


class Index(IndexWriter, IndexReader):
    """The writer and the reader on one connection, as a test needs both sides."""


DIM = 384
PER_ASSET = 10
CHUNK = 100_000


def _words(text: str) -> list[str]:
    return text.split()


ADJ = _words("quiet ancient frozen golden urban rural coastal tropical broken modern")
NOUN = _words(
    "whale violin glacier bakery harbour volcano orchard museum railway lighthouse satellite "
    "vineyard festival library cathedral desert reef forest bridge market telescope factory "
    "monastery canyon island river garden stadium airport laboratory"
)
VERB = _words("repairing filming mapping painting teaching restoring measuring guarding")
WHO = _words("children engineers monks farmers sailors pilots nurses miners divers chefs")
KINDS = {"document": "chunk", "video": "cue", "audio": "window", "image": "description"}
EXT = {"document": "pdf", "video": "mp4", "audio": "ogg", "image": "jpg"}


def phrase(rng: random.Random) -> str:
    return f"{rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} {rng.choice(WHO)}"


def syllable_words(n: int, rng: random.Random) -> list[str]:
    parts = _words("ka lo mi ren tas vor bel qui dun sa ph tor el an is ur")
    return ["".join(rng.choice(parts) for _ in range(rng.randint(2, 4))) for _ in range(n)]


class Corpus:
    """Topic embeddings and a generator of rows, vectors kept for the exact peers."""

    def __init__(self, n: int, topics: int, seed: int = 0) -> None:
        from dataflux_pipeline.models.text import load_text_embedder

        self.n, self.rng = n, random.Random(seed)
        self.topics = list(dict.fromkeys(phrase(self.rng) for _ in range(topics * 2)))[:topics]
        embedder = load_text_embedder(Settings().text_model, "cpu")
        self.topic_vectors = embedder.encode(self.topics).astype(np.float32)
        self.filler = syllable_words(20_000, self.rng)

    def segment_id(self, row: int) -> str:
        j = row // PER_ASSET
        return f"{asset_id(j)}:{KINDS[media_of(j)]}:{row % PER_ASSET}"

    def chunk(self, start: int, size: int, np_rng: np.random.Generator) -> pa.Table:
        a = np_rng.integers(0, len(self.topics), size)
        b = np_rng.integers(0, len(self.topics), size)
        w = np_rng.uniform(0.55, 0.95, (size, 1)).astype(np.float32)
        v = self.topic_vectors[a] * w + self.topic_vectors[b] * (1 - w)
        v += np_rng.normal(0, 0.45 / np.sqrt(DIM), (size, DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        rows = {k: [] for k in ("segment_id", "asset_id", "media_type", "kind", "start_s")}
        rows |= {"end_s": [], "text": [], "file_name": []}
        for i in range(start, start + size):
            asset, media = asset_id(i // PER_ASSET), media_of(i // PER_ASSET)
            words = " ".join(self.rng.choices(self.filler, k=6))
            code = f" INV-{i:07d}" if i % 5 == 0 else ""
            rows["segment_id"].append(f"{asset}:{KINDS[media]}:{i % PER_ASSET}")
            rows["asset_id"].append(asset)
            rows["media_type"].append(media)
            rows["kind"].append(KINDS[media])
            timed = media in ("video", "audio")
            rows["start_s"].append(float(i % PER_ASSET * 10) if timed else None)
            rows["end_s"].append(float(i % PER_ASSET * 10 + 10) if timed else None)
            rows["text"].append(f"{self.topics[a[i - start]]} {words}{code}")
            rows["file_name"].append(f"asset_{i // PER_ASSET:07d}.{EXT[media]}")
        rows["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), DIM)
        return pa.table(rows)


def asset_id(j: int) -> str:
    return hashlib.sha256(f"bench-asset-{j}".encode()).hexdigest()


def media_of(j: int) -> str:
    return ("document", "video", "audio", "image")[j % 4]


def build(args, home: Path) -> tuple[Corpus, dict]:
    t0 = time.perf_counter()
    corpus = Corpus(args.n, args.topics)
    out = {"topic_embed_s": round(time.perf_counter() - t0, 2)}
    np_rng = np.random.default_rng(1)
    saved = home / "built.json"
    if args.reuse and saved.exists():
        return corpus, json.loads(saved.read_text()) | {"reused": True}
    index = Index(home / "lancedb", tuning=IndexTuning(fts_min_rows=10**12))
    t0 = time.perf_counter()
    for start in range(0, args.n, CHUNK):
        index.upsert("text", corpus.chunk(start, min(CHUNK, args.n - start), np_rng), ())
    out["write_s"] = round(time.perf_counter() - t0, 2)
    assets = [
        {
            "asset_id": asset_id(j),
            "uri": f"file:///bench/asset_{j:07d}",
            "uris": [f"file:///bench/asset_{j:07d}"],
            "file_name": f"asset_{j:07d}.{EXT[media_of(j)]}",
            "media_type": media_of(j),
            "mime_type": "application/octet-stream",
            "status": "indexed",
            "size_bytes": 1000 + j,
            "metadata": json.dumps({"technical": {"bench": True}}),
        }
        for j in range(-(-args.n // PER_ASSET))
    ]
    TableStore(home / "tables").write("assets", "bench", assets)
    t0 = time.perf_counter()
    index.create_fts("text")
    out["fts_build_s"] = round(time.perf_counter() - t0, 2)
    ann = index.create_ann("text", args.index_type)
    out |= {"ann_type": ann["type"], "ann_build_s": ann["seconds"], "rows": index.count("text")}
    saved.write_text(json.dumps(out))
    return corpus, out


def pct(values: list[float]) -> dict:
    ms = np.asarray(values) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}


def timed(fn, items, warm: int = 5) -> dict:
    for x in items[:warm]:
        fn(x)
    lat = []
    for x in items[warm:]:
        t0 = time.perf_counter()
        fn(x)
        lat.append(time.perf_counter() - t0)
    return pct(lat) | {"calls": len(lat)}


def per_query(fn, items, size: int) -> dict:
    """`fn` on `size` items at a time: milliseconds per item (batched work)."""
    fn(items[:size])
    t0 = time.perf_counter()
    for start in range(0, len(items), size):
        fn(items[start : start + size])
    ms = (time.perf_counter() - t0) * 1000 / len(items)
    return {"ms_per_item": round(ms, 2), "batch": size, "items": len(items)}


def stored_vectors(index: Index) -> tuple[np.ndarray, list[str]]:
    """The vectors as the index holds them: the peers search exactly the same data."""
    table = index.table("text").search().select(["segment_id", "vector"]).limit(None).to_arrow()
    flat = table["vector"].combine_chunks().values.to_numpy(zero_copy_only=False)
    return flat.reshape(table.num_rows, DIM), table["segment_id"].to_pylist()


def peers(home: Path, queries: list[str]) -> dict:
    """Exact search (NumPy, FAISS flat) and the ANN index, on the same query vectors, and
    each piece of a search request timed alone (one thread, one query at a time)."""
    import faiss
    import torch

    from dataflux_pipeline.models.text import load_text_embedder
    from dataflux_pipeline.serving.encoder import QueryEncoder

    torch.set_num_threads(1)
    embedder = load_text_embedder(Settings().text_model, "cpu")
    q = embedder.encode(queries).astype(np.float32)
    index = Index(home / "lancedb")
    v, ids = stored_vectors(index)
    row = {sid: n for n, sid in enumerate(ids)}
    exact = np.concatenate(
        [np.argpartition(-(q[s : s + 50] @ v.T), 10, axis=1)[:, :10] for s in range(0, len(q), 50)]
    )
    flat = faiss.IndexFlatIP(DIM)
    flat.add(v)
    _, faiss_ids = flat.search(q, 10)
    ann_recall, faiss_recall = [], []
    for i, x in enumerate(q):
        rows = index.vector_search("text", x, 10, columns=["segment_id"])
        found = {row[r["segment_id"]] for r in rows}
        ann_recall.append(len(found & set(exact[i].tolist())) / 10)
        faiss_recall.append(len(set(faiss_ids[i].tolist()) & set(exact[i].tolist())) / 10)
    fast = QueryEncoder(embedder, fast=True)
    ranked = [index.vector_batch("text", [x], 20)[0] for x in q[:105]]
    single = {
        "minilm_fp32": timed(lambda t: embedder.encode([t]), queries[:105]),
        "minilm_bf16_traced": timed(lambda t: fast.encode([t]), queries[:105]),
        "minilm_bf16_traced_8_at_once_per_query": per_query(fast.encode, queries[:104], 8),
        # k = 20 candidates per ranking, what the service asks for a first page of 10; the
        # service reads only the ranking columns, then the full rows of the hits it shows
        "lancedb_vector_k20_full_rows": timed(
            lambda x: index.vector_search("text", x, 20), list(q[:105])
        ),
        "lancedb_vector_k20": timed(lambda x: index.vector_batch("text", [x], 20), list(q[:105])),
        "lancedb_vector_k20_8_at_once_per_query": per_query(
            lambda xs: index.vector_batch("text", xs, 20), list(q[:104]), 8
        ),
        "lancedb_fts_k20_full_rows": timed(
            lambda t: index.text_search("text", t, 20), queries[:105]
        ),
        "lancedb_fts_k20": timed(
            lambda t: index.text_search("text", t, 20, columns=[*RANK_COLUMNS, "text"]),
            queries[:105],
        ),
        "lancedb_hydrate_20_rows": timed(lambda rows: index.hydrate("text", rows), ranked[:105]),
        "numpy_exact": timed(lambda x: np.argpartition(-(v @ x), 10)[:10], list(q[:25])),
        "faiss_flat": timed(lambda x: flat.search(x[None, :], 10), list(q[:25])),
    }
    recall = {
        "lancedb_ann": round(float(np.mean(ann_recall)), 4),
        "faiss_flat": round(float(np.mean(faiss_recall)), 4),
        "queries": len(q),
    }
    return {"recall_at_10": recall, "single_query": single}


# ---- HTTP ---------------------------------------------------------------------------
class Conn:
    """One keep-alive HTTP/1.1 connection; a minimal client so the load generator costs
    the 2-core host as little CPU as possible."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def request(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status


async def closed_loop(port: int, make, seconds: float, concurrency: int) -> dict:
    """`concurrency` clients back to back: the throughput the service sustains."""
    lat, errors = [], 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        conn = Conn(port)
        while time.perf_counter() < stop:
            path, body = make()
            t0 = time.perf_counter()
            status = await conn.request(path, body)
            lat.append(time.perf_counter() - t0)
            errors += status != 200

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    return {
        "mode": f"closed, {concurrency} clients",
        "requests": len(lat),
        "errors": errors,
        "throughput_rps": round(len(lat) / wall, 1),
    } | pct(lat)


async def open_loop(port: int, make, seconds: float, rate: float) -> dict:
    """Poisson arrivals at `rate`: latency from the scheduled arrival, queueing included."""
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(Conn(port))
    lat, errors, tasks = [], 0, []

    async def one(at: float) -> None:
        nonlocal errors
        conn = await pool.get()
        path, body = make()
        status = await conn.request(path, body)
        lat.append(time.perf_counter() - at)
        errors += status != 200
        pool.put_nowait(conn)

    rng = random.Random(7)
    start = time.perf_counter()
    at = start
    while at < start + seconds:
        at += rng.expovariate(rate)
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        tasks.append(asyncio.create_task(one(at)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    return {
        "mode": f"open, {rate:g}/s offered",
        "requests": len(lat),
        "errors": errors,
        "throughput_rps": round(len(lat) / wall, 1),
    } | pct(lat)


class Service:
    """`uvicorn` on the app factory in its own process (no access log), RSS sampled."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        from dataflux_pipeline.cli.demo import free_port

        self.port = free_port()
        full = os.environ | {"DATAFLUX_HOME": str(home)} | env
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "dataflux_pipeline.serving.app:create_app",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(cmd, env=full, cwd=ROOT)
        self.peak, self._stop = 0, threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()
        import httpx

        for _ in range(1200):
            if self.proc.poll() is not None:
                raise RuntimeError("service exited")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError("service did not start")

    def _sample(self) -> None:
        proc = psutil.Process(self.proc.pid)
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(30)


def workloads(corpus: Corpus, seed: int = 3) -> dict:
    rng = random.Random(seed)
    popular = [phrase(rng) for _ in range(1000)]
    weights = [1 / (r + 1) ** 1.1 for r in range(len(popular))]

    def unique() -> str:  # almost never repeats: every request pays for its embedding
        return f"{phrase(rng)} {rng.choice(corpus.filler)}"

    def search(query, mode="hybrid"):
        return "/search", json.dumps({"query": query, "mode": mode, "limit": 10}).encode()

    def similar():
        sid = corpus.segment_id(rng.randrange(corpus.n))
        return "/similar", json.dumps({"segment_id": sid, "space": "text", "limit": 10}).encode()

    return {
        "search_hybrid_unique": lambda: search(unique()),
        "search_hybrid_zipf": lambda: search(rng.choices(popular, weights)[0]),
        "search_vector_unique": lambda: search(unique(), "vector"),
        "similar_segment": similar,
    }


def _busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.system + t.nice + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def drive(port: int, make, args, rate: float | None = None, pid: int | None = None) -> dict:
    """One scenario after a 2 s warm-up; CPU of the service and of everything else on the
    host is recorded beside it, so a run on a shared machine says so."""
    warm = asyncio.run(closed_loop(port, make, 2.0, args.concurrency))
    assert warm["errors"] == 0, warm
    me, service = psutil.Process(), psutil.Process(pid) if pid else None
    cpu = lambda p: sum(p.cpu_times()[:2]) if p else 0.0  # noqa: E731
    start = (time.perf_counter(), _busy(), cpu(me), cpu(service))
    if rate:
        out = asyncio.run(open_loop(port, make, args.duration, rate))
    else:
        out = asyncio.run(closed_loop(port, make, args.duration, args.concurrency))
    wall = time.perf_counter() - start[0]
    used = (_busy() - start[1], cpu(me) - start[2], cpu(service) - start[3])
    out["service_cpu_cores"] = round(used[2] / wall, 2)
    out["client_cpu_cores"] = round(used[1] / wall, 2)
    out["other_cpu_cores"] = round(max(0.0, used[0] - used[1] - used[2]) / wall, 2)
    return out


def http(args, corpus: Corpus, home: Path) -> dict:
    env = {"DATAFLUX_ANN_INDEX_TYPE": args.index_type}
    out, loads = {}, workloads(corpus)
    service = Service(home, env)
    try:
        for name, make in loads.items():
            out[name] = drive(service.port, make, args, pid=service.proc.pid)
            print(name, out[name], flush=True)
        light = argparse.Namespace(**vars(args) | {"concurrency": 1})
        for name in ("search_hybrid_unique", "search_vector_unique", "similar_segment"):
            out[f"{name}@1client"] = drive(service.port, loads[name], light, pid=service.proc.pid)
            print(f"{name}@1client", out[f"{name}@1client"], flush=True)
        for name in ("search_hybrid_unique", "search_hybrid_zipf"):
            key = f"{name}@{args.rate:g}rps"
            out[key] = drive(service.port, loads[name], args, args.rate, service.proc.pid)
            print(key, out[key], flush=True)
    finally:
        service.close()
    result = {"scenarios": out, "service_peak_rss_mb": round(service.peak / 2**20)}
    before = {}
    for label, extra, name in (
        (
            "no_caches",
            {"DATAFLUX_QUERY_CACHE_SIZE": "0", "DATAFLUX_RESULT_CACHE_SIZE": "0"},
            "zipf",
        ),
        ("embedding_cache_only", {"DATAFLUX_RESULT_CACHE_SIZE": "0"}, "zipf"),
        ("fp32_query_encoder", {"DATAFLUX_QUERY_ENCODER_BF16": "false"}, "unique"),
        ("no_query_batching", {"DATAFLUX_QUERY_BATCHING": "false"}, "unique"),
    ):
        service = Service(home, env | extra)
        try:
            scenario = f"search_hybrid_{name}"
            before[label] = {
                scenario: drive(service.port, loads[scenario], args, pid=service.proc.pid)
            }
            print(label, before[label], flush=True)
        finally:
            service.close()
    return result | {"before": before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="segments in the index")
    parser.add_argument("--topics", type=int, default=2000)
    parser.add_argument(
        "--index-type", default="IVF_HNSW_SQ", choices=["IVF_HNSW_SQ", "IVF_SQ", "IVF_PQ"]
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop offered load")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dataflux-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/search.json")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (the index)")
    parser.add_argument("--build-only", action="store_true", help="build the index and stop")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept index of the same --n")
    args = parser.parse_args()
    home = args.workdir / "data"
    if not args.reuse:
        shutil.rmtree(args.workdir, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    corpus, built = build(args, home)
    print("built", built, flush=True)
    if args.build_only:
        return 0
    queries = [f"{phrase(random.Random(i))} {corpus.filler[i]}" for i in range(200)]
    measured = peers(home, queries)
    print("peers", measured, flush=True)
    served = http(args, corpus, home)
    report = {
        "command": "python bench/search.py " + " ".join(sys.argv[1:]),
        "n": args.n,
        "dim": DIM,
        "host": {
            "cpus": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30),
        },
        "index": built,
        **measured,
        **served,
        "bench_seconds": round(time.perf_counter() - t0),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
