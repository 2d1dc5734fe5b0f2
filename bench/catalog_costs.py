"""What the live catalog costs: disk used by a catalog of a folder against the folder
itself (originals referenced, not copied); the pipeline work a rename takes (no analysis);
how long until a removed file is out of search (one sensor tick).

    .venv/bin/python bench/catalog_costs.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataflux_pipeline.cli.samples import Shot, write_demo_set, write_video  # noqa: E402
from tests.catalog.home import home_at  # noqa: E402


def size(path: Path, skip: tuple[str, ...] = ()) -> int:
    return sum(
        p.stat().st_size
        for p in path.rglob("*")
        if p.is_file() and not any(part in skip for part in p.relative_to(path).parts)
    )


def runs(home, job: str) -> list:
    import dagster as dg

    return home.instance.get_run_records(dg.RunsFilter(job_name=job))


def step_seconds(home, job: str) -> dict[str, float]:
    """Durations of the steps of the newest run of `job`, from its events."""
    record = runs(home, job)[0]
    starts, out = {}, {}
    for e in home.instance.all_logs(record.dagster_run.run_id):
        kind = e.dagster_event_type.value if e.dagster_event_type else ""
        if kind == "STEP_START":
            starts[e.step_key] = e.timestamp
        elif kind == "STEP_SUCCESS" and e.step_key in starts:
            out[e.step_key] = round(e.timestamp - starts[e.step_key], 3)
    return out


def main() -> int:
    fixtures = ROOT.parent / "shared" / "fixtures"
    with tempfile.TemporaryDirectory() as tmp, home_at(Path(tmp)) as home:
        write_demo_set(home.landing, fixtures if fixtures.is_dir() else None)
        for n in range(3):  # a few minutes of 720p video: where a media folder's bytes are
            shots = [Shot(250, (60 * k % 255, 100, 180)) for k in range(8)]
            write_video(home.landing / f"holiday_{n}.mp4", shots, size=(1280, 720), seed=n)
        home.ingest()
        folder = size(home.landing)
        catalog = size(home.settings.home, skip=("landing", "dagster"))
        parts = {
            name: size(home.settings.home / name)
            for name in ("tables", "lancedb", "store", "batches")
        }
        parts["dataflux.db"] = (home.settings.home / "dataflux.db").stat().st_size
        analyses = home.table("analyses").height
        ingest_runs = len(runs(home, "ingest"))
        home.move("holiday_0.mp4", "trips/holiday-in-porto.mp4")
        t0 = time.perf_counter()
        home.tick()  # the sensor records the move
        tick_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        home.ingest()  # nothing to batch; catalog_sync rewrites the content's index rows
        rename_wall = time.perf_counter() - t0
        steps = step_seconds(home, "catalog_sync")
        shown = [h["file_name"] for h in home.search("holiday in porto", limit=3, min_score=0)]
        rename = {
            "analysis_rows_added": home.table("analyses").height - analyses,
            "ingest_runs_added": len(runs(home, "ingest")) - ingest_runs,
            "sensor_tick_seconds": round(tick_s, 3),
            "pipeline_step_seconds": round(sum(steps.values()), 3),
            "steps": steps,
            "sync_wall_seconds_in_process": round(rename_wall, 2),
            "search_shows_new_name": "holiday-in-porto.mp4" in shown,
        }
        gone = next(a for a, n in home.live().items() if n == "holiday_1.mp4")
        home.remove("holiday_1.mp4")
        t0 = time.perf_counter()
        home.tick()
        tick = time.perf_counter() - t0
        hidden = all(h["asset_id"] != gone for h in home.search("holiday", limit=50, min_score=0))
        report = {
            "folder_bytes": folder,
            "catalog_bytes": catalog,
            "catalog_share_of_folder": round(catalog / folder, 4),
            "catalog_parts_bytes": parts,
            "rename": rename,
            "removal": {"one_tick_seconds": round(tick, 3), "out_of_search_after_it": hidden},
        }
    print(json.dumps(report, indent=1))
    print(
        f"\n| folder | catalog (refs, tables, index, thumbnails) | share | rename: analysis rows "
        f"| rename: step seconds | removal: one tick |\n| --- | --- | --- | --- | --- | --- |\n"
        f"| {folder / 1e6:.1f} MB | {catalog / 1e6:.1f} MB | {catalog / folder:.1%} | "
        f"{rename['analysis_rows_added']} | {rename['pipeline_step_seconds']} s | "
        f"{tick:.2f} s, hidden: {hidden} |"
    )
    out = ROOT / "bench" / "results" / "catalog_costs.json"
    out.write_text(json.dumps(report, indent=1))
    shutil.rmtree(Path(tmp), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
