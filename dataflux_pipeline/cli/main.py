"""`dataflux` for people: analyze one file, ingest the landing folder, search, serve, run
everything (`up`), and the demo. Each command imports what it needs when it runs, so the
CLI starts fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dataflux_pipeline.settings import Settings, get_settings

MEDIA_TYPES = ["video", "audio", "image", "document"]


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    if getattr(args, "landing", None):
        settings = settings.model_copy(update={"landing_dir": Path(args.landing).resolve()})
    return settings


def cmd_analyze(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.analyze import analyze

    return analyze(get_settings(), args.file, args.json, args.thumbnails)


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dataflux_pipeline.cli.ingest import ingest
    from dataflux_pipeline.cli.instance import dagster_instance

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


def cmd_search(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.search import search

    body: dict = {"query": args.query, "limit": args.limit}
    if args.media_type:
        body["media_types"] = args.media_type
    return search(get_settings(), body, args.url, args.local)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from dataflux_pipeline.serving.app import create_app

    settings = get_settings()
    host, port = args.host or settings.api_host, args.port or settings.api_port
    if args.workers > 1:  # each worker a process of its own over the same index and catalog
        uvicorn.run(
            "dataflux_pipeline.serving.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_level="warning",
        )
        return 0
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.mcp import serve_stdio

    return serve_stdio(get_settings(), args.user)


def cmd_up(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.up import up

    return up(get_settings(), Path(args.workspace), args.ui_port)


def cmd_delete(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.manage import actor_name, delete_assets

    return delete_assets(get_settings(), args.ids, actor_name())


def cmd_reanalyze(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.manage import actor_name, reanalyze

    if bool(args.ids) == bool(args.all_older_than):
        print("give asset ids or --all-older-than VERSION", file=sys.stderr)
        return 2
    return reanalyze(get_settings(), args.ids, args.all_older_than, args.analyzer, actor_name())


def cmd_backup(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.backup import backup

    return backup(get_settings(), args.dest)


def cmd_restore(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.backup import restore

    return restore(get_settings(), args.src)


def cmd_users(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.users import users

    return users(get_settings(), args.action, args.name, args.role, args.password_stdin)


def cmd_feedback(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.users import export_feedback

    return export_feedback(get_settings(), args.out)


def cmd_demo(args: argparse.Namespace) -> int:
    from dataflux_pipeline.cli.demo import run_demo

    return run_demo(get_settings(), args.fixtures)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dataflux", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analyze", help="run the analyzers on one file, without Dagster")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--thumbnails", help="folder for keyframe thumbnails (default: a temp dir)")
    p.set_defaults(func=cmd_analyze)
    p = sub.add_parser("ingest", help="take new landing files and materialize their partitions")
    p.add_argument("--landing", help="landing folder (default: DATAFLUX_HOME/landing)")
    p.add_argument("--wait", type=float, help="seconds to wait for files still being written")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("search", help="search the catalog and print the hits")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--media-type", action="append", choices=MEDIA_TYPES)
    p.add_argument("--url", help="the service to ask (default: DATAFLUX_API_URL)")
    p.add_argument("--local", action="store_true", help="read the index here, not the service")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("serve", help="start the HTTP search service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1, help="processes answering requests")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("mcp", help="the MCP server over stdio, for assistants (acts as one user)")
    p.add_argument("--user", help="act as this account (else DATAFLUX_MCP_KEY / DATAFLUX_API_KEY)")
    p.set_defaults(func=cmd_mcp)
    p = sub.add_parser("up", help="the Dagster UI and daemon plus the search service")
    p.add_argument("--workspace", default="workspace.yaml")
    p.add_argument("--ui-port", type=int, default=3000)
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("delete", help="delete assets: out of search now, purged, kept out")
    p.add_argument("ids", nargs="+", help="asset ids or unique prefixes (8+ hex characters)")
    p.set_defaults(func=cmd_delete)
    p = sub.add_parser("reanalyze", help="analyze assets again with the current analyzers")
    p.add_argument("ids", nargs="*", help="asset ids or unique prefixes")
    p.add_argument("--all-older-than", metavar="VERSION", help="every asset analyzed below it")
    p.add_argument("--analyzer", default="dataflux", help="whose version --all-older-than compares")
    p.set_defaults(func=cmd_reanalyze)
    p = sub.add_parser("backup", help="a consistent snapshot of the catalog (path or s3://)")
    p.add_argument("dest")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="restore a backup into this (empty) DATAFLUX_HOME")
    p.add_argument("src")
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser("users", help="accounts: add, list, disable, enable, reset-password")
    p.add_argument(
        "action", choices=["add", "list", "disable", "enable", "reset-password", "set-role"]
    )
    p.add_argument("name", nargs="?")
    p.add_argument("--role", default="viewer", choices=["admin", "editor", "viewer"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_users)
    p = sub.add_parser("feedback", help="export relevance judgements as an evaluation set")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", default="feedback-queries.json")
    p.set_defaults(func=cmd_feedback)
    p = sub.add_parser("demo", help="write a sample media set, ingest it, search it over HTTP")
    p.add_argument("--fixtures", help="also copy the audio fixtures from this folder")
    p.set_defaults(func=cmd_demo)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("ingest", "demo", "search", "serve", "reanalyze", "delete", "mcp"):
        from dataflux_pipeline.cli.ingest import quiet_libraries

        quiet_libraries()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
