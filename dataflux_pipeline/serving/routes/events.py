"""GET /events/assets: server-sent events with the state of some assets as it changes,
so the upload page shows queued -> analyzing -> searchable (or failed, with the reason)
without polling. The stream ends once every asset has reached a final state, or after a
while (EventSource reconnects by itself)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.catalog.access import pending_uploads
from dataflux_pipeline.serving import uploads
from dataflux_pipeline.serving.deps import ASSET_ID, AUTH_RESPONSES, Service, Svc, Who, require

router = APIRouter(
    tags=["catalog"], dependencies=[Depends(require("assets:read"))], responses=AUTH_RESPONSES
)
# catalog status -> what a person is told
STAGES = {
    "cataloged": "analyzing",
    "analyzed": "analyzing",
    "indexed": "searchable",
    "failed": "failed",
    "skipped": "skipped",
}
# `unknown` is not final: an upload is briefly neither queued nor visible while the
# intake creates its catalog entry
FINAL = {"searchable", "failed", "skipped"}
UNKNOWN_GRACE_S = 15.0  # then an id still unknown is taken as one the caller cannot see
POLL_S = 0.5
HEARTBEAT_S = 15.0
STREAM_S = 600.0


def stage_of(svc: Service, principal: Principal, asset_id: str, mine: set[str]) -> dict:
    """What a person sees of one asset now; `unknown` is also what an asset they may not
    read looks like."""
    if svc.catalog.visible(asset_id, principal):
        row = svc.catalog.row(asset_id) or {}
        stage = STAGES.get(row.get("status") or "", "analyzing")
        return {
            "asset_id": asset_id,
            "stage": stage,
            "file_name": row.get("file_name"),
            "error": row.get("error") if stage in ("failed", "skipped") else None,
        }
    queued = uploads.queued_file(svc.settings.uploads, asset_id)
    if queued is not None and (principal.unrestricted or asset_id in mine):
        return {"asset_id": asset_id, "stage": "queued", "file_name": queued.name, "error": None}
    return {"asset_id": asset_id, "stage": "unknown", "file_name": None, "error": None}


def stages(svc: Service, principal: Principal, ids: list[str]) -> list[dict]:
    mine = set() if principal.unrestricted else pending_uploads(svc.live, principal.readers)
    return [stage_of(svc, principal, a, mine) for a in ids]


@router.get("/events/assets", response_class=StreamingResponse)
async def asset_events(
    request: Request,
    svc: Svc,
    principal: Who,
    ids: Annotated[list[str], Query(alias="id", min_length=1, max_length=200)],
) -> StreamingResponse:
    """`text/event-stream` of `stage` events, one per asset and change: queued (uploaded,
    not taken yet), analyzing, searchable, failed or skipped (with `error`), unknown."""
    wanted = list(dict.fromkeys(a for a in ids if ASSET_ID.fullmatch(a)))

    async def stream():
        sent: dict[str, str] = {}
        started = last = time.monotonic()
        yield "retry: 2000\n\n"
        while time.monotonic() - started < STREAM_S and not await request.is_disconnected():
            now = await anyio.to_thread.run_sync(stages, svc, principal, wanted)
            for item in now:
                key = json.dumps(item, sort_keys=True)
                if sent.get(item["asset_id"]) != key:
                    sent[item["asset_id"]] = key
                    yield f"event: stage\ndata: {json.dumps(item)}\n\n"
                    last = time.monotonic()
            patient = time.monotonic() - started < UNKNOWN_GRACE_S
            if all(i["stage"] in FINAL or (i["stage"] == "unknown" and not patient) for i in now):
                yield "event: done\ndata: {}\n\n"
                return
            if time.monotonic() - last > HEARTBEAT_S:
                yield ": still here\n\n"
                last = time.monotonic()
            await asyncio.sleep(POLL_S)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
