"""`dataflux` for people: analyze one file, ingest the landing folder, search, serve, demo."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from dataflux_pipeline.settings import Settings, get_settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    if getattr(args, "landing", None):
        settings = settings.model_copy(update={"landing_dir": Path(args.landing).resolve()})
    return settings


def cmd_analyze(args: argparse.Namespace) -> int:
    from dataflux_pipeline.analyzers import AnalysisError, MediaItem, analyze_file, default_registry
    from dataflux_pipeline.intake.identity import CatalogError, check_type, group_files, sniff_mime

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    settings = get_settings()
    with path.open("rb") as f:
        mime = sniff_mime(path, f.read(8192))
    group = next((g for g in group_files(path.parent.iterdir()) if g.primary == path), None)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    out = Path(args.thumbnails or tempfile.mkdtemp(prefix="dataflux-"))
    item = MediaItem(path, digest, mime, out, group.sidecars if group else {})
    try:
        check_type(path, mime)
        result = analyze_file(item, default_registry(settings))
    except (AnalysisError, CatalogError) as exc:
        print(f"error: {path.name}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        doc = {
            "asset_id": digest,
            "mime_type": mime,
            "duration_s": result.duration_s,
            "metadata": result.metadata,
            "segments": [s.model_dump() for s in result.segments],
            "features": result.features,
        }
        print(json.dumps(doc, indent=1, default=str))
        return 0
    print(f"{path.name}  {mime}  duration={result.duration_s}  asset_id={digest[:16]}…")
    print(f"{'kind':<12}{'idx':>4}  {'start':>8}  {'end':>8}  text/thumbnail")
    for s in result.segments:
        start = "" if s.start_s is None else f"{s.start_s:8.2f}"
        end = "" if s.end_s is None else f"{s.end_s:8.2f}"
        extra = (s.text or s.thumbnail or "").replace("\n", " ")[:60]
        print(f"{s.kind:<12}{s.index:>4}  {start:>8}  {end:>8}  {extra}")
    for table, rows in result.features.items():
        print(f"{table}: {len(rows)} rows")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dataflux_pipeline.cli.ingest import dagster_instance, ingest

    settings = _settings(args)
    instance = dagster_instance(settings)
    bar = tqdm(total=0, unit="batch", desc="ingest", file=sys.stderr)

    def progress(partition: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(partition)
        bar.update(1)

    report = ingest(settings, instance, args.wait, progress)
    bar.close()
    print(f"{len(report.partitions)} partition(s) materialized: {', '.join(report.partitions)}")
    if report.pending:
        print(f"{len(report.pending)} file(s) still being written, left for next time")
    if report.failed_runs:
        print(f"failed runs: {', '.join(report.failed_runs)}", file=sys.stderr)
        return 1
    return 0


def print_hits(response: dict) -> None:
    print(f"{response['total']} asset(s) for {response['query']!r} in {response['took_ms']:.1f} ms")
    for n, hit in enumerate(response["results"], 1):
        print(f"{n:>2}. {hit['score']:.3f}  {hit['media_type']:<9} {hit['file_name']}")
        for seg in hit["segments"]:
            when = ""
            if seg["start_s"] is not None:
                when = f"@{seg['start_s']:.2f}s"
            elif seg["page"] is not None:
                when = f"p.{seg['page']}"
            text = (seg["text"] or seg["thumbnail"] or "").replace("\n", " ")[:70]
            print(f"      {seg['score']:.3f} {seg['kind']:<11} {when:<9} {text}")


def cmd_search(args: argparse.Namespace) -> int:
    body = {"query": args.query, "limit": args.limit}
    if args.media_type:
        body["media_types"] = args.media_type
    if args.url:
        import httpx

        resp = httpx.post(f"{args.url.rstrip('/')}/search", json=body, timeout=60)
        if resp.status_code != 200:
            print(f"error {resp.status_code}: {resp.text}", file=sys.stderr)
            return 1
        print_hits(resp.json())
        return 0
    from dataflux_pipeline.serving.schemas import SearchRequest
    from dataflux_pipeline.serving.search import Searcher

    print_hits(Searcher(get_settings()).search(SearchRequest(**body)).model_dump())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from dataflux_pipeline.serving.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.demo import run_demo

    return run_demo(get_settings(), args.fixtures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dataflux", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analyze", help="run the analyzers on one file, without Dagster")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--thumbnails", help="folder for keyframe thumbnails (default: a temp dir)")
    p.set_defaults(func=cmd_analyze)
    p = sub.add_parser("ingest", help="take new landing files and materialize their partitions")
    p.add_argument("--landing", help="landing folder (default: DATAFLUX_HOME/landing)")
    p.add_argument("--wait", type=float, help="seconds to wait for files still being written")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("search", help="search the catalog and print a table")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--media-type", action="append", choices=["video", "audio", "image", "document"])
    p.add_argument("--url", help="ask a running service instead of reading the index here")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("serve", help="start the HTTP search service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("demo", help="write a sample media set, ingest it, search it over HTTP")
    p.add_argument("--fixtures", help="also copy the audio fixtures from this folder")
    p.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
