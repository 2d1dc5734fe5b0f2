"""The peer engines, written as their own users would write them.

- `LanceHybrid`: LanceDB's own hybrid query on the very table DataFlux serves (same rows,
  same IVF_HNSW_SQ index, same nprobes/ef): `table.search(query_type="hybrid")` with a
  query vector and the query text, fused by LanceDB's `RRFReranker`.
- `TantivyHnsw`: Tantivy (BM25, English stemming) and a FAISS HNSW graph (inner product
  on the unit vectors, the same m 16 / ef_construction 150 as DataFlux's index), fused
  by reciprocal rank (k 60, as LanceDB's reranker and DataFlux use), the metadata of the
  hits read from an Arrow table in memory. Both libraries install from PyPI as wheels and
  run offline; Tantivy is already a dependency, faiss-cpu is in the `bench` extra.

Each `search(text, vector, k, mode)` returns up to k segment rows, best first, with
`score`; `nearest(vector, k)` returns segment ids of the vector leg alone (recall)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ["segment_id", "asset_id", "file_name", "media_type", "kind", "start_s", "end_s", "text"]
RRF_K = 60


class LanceHybrid:
    name = "lancedb_hybrid"

    def __init__(self, uri: str | Path, nprobes: int = 10, ef: int = 600) -> None:
        import lancedb
        from lancedb.rerankers import RRFReranker

        self.table = lancedb.connect(str(uri)).open_table("segments_text")
        self.ann = bool([i for i in self.table.list_indices() if list(i.columns) == ["vector"]])
        self.nprobes, self.ef = nprobes, ef
        self.reranker = RRFReranker(K=RRF_K)
        self.knobs = {"nprobes": nprobes, "ef": ef, "reranker": f"RRFReranker(K={RRF_K})"}

    def _vector(self, query):
        query = query.distance_type("cosine")
        return query.nprobes(self.nprobes).ef(self.ef) if self.ann else query

    def search(self, text: str, vector: np.ndarray, k: int, mode: str = "hybrid") -> list[dict]:
        if mode == "hybrid":
            query = self.table.search(query_type="hybrid", vector_column_name="vector")
            query = self._vector(query.vector(vector).text(text)).rerank(self.reranker)
            score = "_relevance_score"
        elif mode == "vector":
            query = self._vector(self.table.search(vector, vector_column_name="vector"))
            score = "_distance"
        else:
            query = self.table.search(text, query_type="fts", fts_columns="text")
            score = "_score"
        rows = query.select(COLUMNS).limit(k).to_list()
        for r in rows:
            r["score"] = r.pop(score, None)
            if mode == "vector":
                r["score"] = 1.0 - r["score"]
        return rows

    def nearest(self, vector: np.ndarray, k: int) -> list[str]:
        query = self._vector(self.table.search(vector, vector_column_name="vector"))
        return [r["segment_id"] for r in query.select(["segment_id"]).limit(k).to_list()]


class TantivyHnsw:
    name = "tantivy_faiss_hnsw"
    M, EF_CONSTRUCTION = 16, 150

    def __init__(self, folder: Path, ef_search: int | None = None) -> None:
        import faiss
        import tantivy

        faiss.omp_set_num_threads(1)  # one query per request thread; no OpenMP team per call
        self.folder = folder
        self.index = tantivy.Index.open(str(folder / "tantivy"))
        self.searcher = self.index.searcher()
        self.hnsw = faiss.read_index(str(folder / "hnsw.faiss"))
        # one chunk: a take from 8 row-group chunks cost 18 ms a query at 1M rows, 0.04 ms here
        self.meta = pq.read_table(folder / "meta.parquet").combine_chunks()
        self.ids = self.meta["segment_id"].to_pylist()
        built = json.loads((folder / "built.json").read_text())
        self.set_ef(ef_search or built.get("ef_search", 64))

    def set_ef(self, ef: int) -> None:
        self.hnsw.hnsw.efSearch = ef
        self.knobs = {"m": self.M, "ef_construction": self.EF_CONSTRUCTION, "ef_search": ef}

    @classmethod
    def build(cls, folder: Path, table: pa.Table, threads: int = 2) -> dict[str, Any]:
        """Index `table` (COLUMNS and `vector`): Tantivy over `text`, HNSW over `vector`."""
        import faiss
        import tantivy

        folder.mkdir(parents=True, exist_ok=True)
        out: dict[str, Any] = {"rows": table.num_rows}
        t0 = time.perf_counter()
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("row", stored=True, indexed=False)
        builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
        (folder / "tantivy").mkdir(exist_ok=True)
        index = tantivy.Index(builder.build(), path=str(folder / "tantivy"))
        writer = index.writer(heap_size=512 * 2**20, num_threads=threads)
        for row, text in enumerate(table["text"].to_pylist()):
            writer.add_document(tantivy.Document(row=row, text=text or ""))
        writer.commit()
        writer.wait_merging_threads()
        out["tantivy_build_s"] = round(time.perf_counter() - t0, 2)
        flat = table["vector"].combine_chunks().values.to_numpy(zero_copy_only=False)
        vectors = np.ascontiguousarray(flat.reshape(table.num_rows, -1), dtype=np.float32)
        t0 = time.perf_counter()
        faiss.omp_set_num_threads(threads)
        hnsw = faiss.IndexHNSWFlat(vectors.shape[1], cls.M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = cls.EF_CONSTRUCTION
        hnsw.add(vectors)
        faiss.write_index(hnsw, str(folder / "hnsw.faiss"))
        out["hnsw_build_s"] = round(time.perf_counter() - t0, 2)
        pq.write_table(table.select(COLUMNS), folder / "meta.parquet")
        (folder / "built.json").write_text(json.dumps(out))
        return out

    def _bm25(self, text: str, k: int) -> list[int]:
        query, _errors = self.index.parse_query_lenient(text, ["text"])
        hits = self.searcher.search(query, k).hits
        return [self.searcher.doc(addr)["row"][0] for _, addr in hits]

    def _knn(self, vector: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        sims, rows = self.hnsw.search(np.asarray(vector, np.float32).reshape(1, -1), k)
        keep = rows[0] >= 0
        return rows[0][keep].tolist(), sims[0][keep].tolist()

    def search(self, text: str, vector: np.ndarray, k: int, mode: str = "hybrid") -> list[dict]:
        if mode == "text":
            ranked = [(r, None) for r in self._bm25(text, k)]
        elif mode == "vector":
            ranked = list(zip(*self._knn(vector, k), strict=True))
        else:
            fused: dict[int, float] = {}
            for leg in (self._bm25(text, k), self._knn(vector, k)[0]):
                for rank, row in enumerate(leg):
                    fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
            ranked = sorted(fused.items(), key=lambda x: -x[1])[:k]
        rows = self.meta.take(pa.array([r for r, _ in ranked], pa.int64())).to_pylist()
        for row, (_, score) in zip(rows, ranked, strict=True):
            row["score"] = score
        return rows

    def nearest(self, vector: np.ndarray, k: int) -> list[str]:
        return [self.ids[r] for r in self._knn(vector, k)[0]]


def tune_ef(engine: TantivyHnsw, queries: np.ndarray, exact: list[set[str]], floor: float):
    """The smallest HNSW search breadth whose recall@10 reaches `floor`: the peer runs at
    the least cost that meets the same recall bar as DataFlux. Returns (ef, ladder)."""
    ladder = {}
    for ef in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768):
        engine.set_ef(ef)
        got = [
            len(set(engine.nearest(q, 10)) & e) / 10 for q, e in zip(queries, exact, strict=True)
        ]
        ladder[ef] = round(float(np.mean(got)), 4)
        if ladder[ef] >= floor:
            return ef, ladder
    return ef, ladder


ENGINES = {LanceHybrid.name: LanceHybrid, TantivyHnsw.name: TantivyHnsw}
