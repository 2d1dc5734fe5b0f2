"""`dataflux delete` and `dataflux reanalyze`: the same requests the service records,
for scripts and the first administrator, with id prefixes as in git."""

from __future__ import annotations

import sys

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.requests import delete, older_than, request_reanalysis
from dataflux_pipeline.catalog.store import AmbiguousId
from dataflux_pipeline.settings import Settings


def _resolve(live: Catalog, ident: str) -> str | None:
    try:
        found = live.resolve(ident)
    except AmbiguousId as exc:
        print(f"error: {exc}: {', '.join(c[:16] for c in exc.candidates)}", file=sys.stderr)
        return None
    asset = live.get(found) if found else None
    if asset is None or not asset.live:
        print(f"error: no live asset {ident}", file=sys.stderr)
        return None
    return found


def delete_assets(settings: Settings, idents: list[str], actor: str | None) -> int:
    live = Catalog.open(settings.database)
    code = 0
    for ident in idents:
        asset_id = _resolve(live, ident)
        removed = delete(live, asset_id, actor) if asset_id else None
        if removed is None:
            code = 1
            continue
        for _, rel in removed:
            target = (settings.uploads / rel).resolve()
            if target.is_relative_to(settings.uploads.resolve()):
                target.unlink(missing_ok=True)
        print(f"deleted {asset_id[:16]}… (purged at the next catalog sync)")
    return code


def reanalyze(
    settings: Settings, idents: list[str], older: str | None, analyzer: str, actor: str | None
) -> int:
    live = Catalog.open(settings.database)
    if older:
        try:
            ids = older_than(live, analyzer, older)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        ids = [a for a in (_resolve(live, i) for i in idents) if a]
        if len(ids) != len(idents):
            return 1
    flagged = request_reanalysis(live, ids, actor)
    print(f"{len(flagged)} asset(s) queued for re-analysis (the catalog sensor starts the run)")
    return 0


def actor_name() -> str | None:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
