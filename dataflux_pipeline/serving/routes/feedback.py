"""POST /feedback: was a hit relevant to a query? Stored per user; `dataflux feedback
export` turns the judgements into the evaluation set's format."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from dataflux_pipeline.accounts import feedback
from dataflux_pipeline.serving.deps import (
    AUTH_RESPONSES,
    SEGMENT_ID,
    Svc,
    Who,
    check_id,
    require,
    resolve_asset,
)

router = APIRouter(
    tags=["search"], dependencies=[Depends(require("assets:read"))], responses=AUTH_RESPONSES
)


class Judgement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000)
    asset_id: str = Field(min_length=8, max_length=80)
    segment_id: str | None = Field(None, max_length=200)
    relevant: bool
    comment: str | None = Field(None, max_length=2000)


@router.post("/feedback", status_code=201, responses={404: {}})
def judge(body: Judgement, svc: Svc, principal: Who) -> dict:
    asset_id = resolve_asset(svc, body.asset_id, principal)
    if body.segment_id is not None:
        check_id(SEGMENT_ID, body.segment_id, "segment id")
    feedback_id = feedback.record(
        svc.db,
        principal.user_id,
        body.query,
        asset_id,
        body.relevant,
        body.segment_id,
        body.comment,
    )
    return {"id": feedback_id}
