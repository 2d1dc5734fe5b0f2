"""With a CLIP model configured, text queries also search the image space (text tower)
and uploaded images are embedded with the image tower, as the pipeline does. The index
rows are written here, and their contents registered as live in the catalog (the service
shows only what the live catalog holds), so no pipeline runs."""

from __future__ import annotations

from pathlib import Path

import httpx

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.cli.samples import write_image
from dataflux_pipeline.models.clip import load_clip_embedder
from dataflux_pipeline.models.text import load_text_embedder
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexWriter
from tests.eval import harness


def test_clip_space_joins_text_queries_and_file_queries(tmp_path: Path, tiny_clip: Path) -> None:
    settings = Settings(home=tmp_path / "data", clip_model=str(tiny_clip))
    clip = load_clip_embedder(str(tiny_clip), "cpu")
    images = [
        write_image(tmp_path / f"img{n}.jpg", (40 * n, 90, 200 - 30 * n), seed=n) for n in range(4)
    ]
    index = IndexWriter(settings.lancedb)
    rows = [
        {
            "segment_id": f"{'c' * 63}{n}:image:0",
            "asset_id": f"{'c' * 63}{n}",
            "media_type": "image",
            "kind": "image",
            "file_name": p.name,
            "thumbnail": f"thumbnails/cc/{p.name}",
            "vector": v.tolist(),
        }
        for n, (p, v) in enumerate(zip(images, clip.encode_images(images), strict=True))
    ]
    index.upsert("clip", rows, [r["asset_id"] for r in rows])
    text = load_text_embedder(settings.text_model, "cpu")
    note = {"segment_id": f"{'d' * 64}:chunk:0", "asset_id": "d" * 64, "media_type": "document"}
    note |= {"kind": "chunk", "text": "a note about painting", "file_name": "note.txt"}
    # a row whose content the catalog does not hold as live (deleted, say) is never shown
    stray = note | {"segment_id": f"{'e' * 64}:chunk:0", "asset_id": "e" * 64}
    index.upsert(
        "text",
        [r | {"vector": text.encode([r["text"]])[0].tolist()} for r in (note, stray)],
        ["d" * 64, "e" * 64],
    )
    with Catalog.open(settings.database).session() as s:
        for r in [*rows, note]:
            s.add(
                Asset(
                    asset_id=r["asset_id"],
                    media_type=r["media_type"],
                    file_name=r["file_name"],
                    status="indexed",
                    live=True,
                )
            )
        Catalog.bump(s)

    with harness.serve(settings) as url:
        # a random-weight CLIP: its similarities say nothing, so no cut-off
        query = {"query": "colourful painting", "min_score": 0}
        body = httpx.post(url + "/search", json=query).json()
        assert body["legs"] == ["bm25:text", "vector:text", "vector:clip"]
        spaces = {s["space"] for r in body["results"] for s in r["segments"]}
        assert spaces == {"clip", "text"} and len(body["results"]) == 5
        assert "e" * 64 not in {r["asset_id"] for r in body["results"]}
        files = {"file": ("q.jpg", images[2].read_bytes())}
        found = httpx.post(url + "/search/by-file", files=files, timeout=60).json()
        assert found["spaces"] == ["clip"]  # no visual space in this index
        top = found["results"][0]
        assert top["file_name"] == "img2.jpg" and top["segments"][0]["vector_score"] > 0.999
        assert top["asset_id"] == rows[2]["asset_id"]
