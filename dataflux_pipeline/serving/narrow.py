"""Filters the web pages offer that the index knows nothing of: file size and owner. They
narrow the set of assets a search may return (as a collection does), so the searcher
ranks within them and pages stay full."""

from __future__ import annotations

import polars as pl
from sqlalchemy import select

from dataflux_pipeline.accounts.principals import Principal, user_label
from dataflux_pipeline.accounts.users import get_user
from dataflux_pipeline.catalog.models import AssetAccess
from dataflux_pipeline.serving.schemas import Filters
from dataflux_pipeline.serving.views import CatalogView


def owned_by(catalog: CatalogView, names: list[str]) -> set[str]:
    """Contents owned by any of these users (an unknown name owns nothing)."""
    labels = []
    for name in names:
        user = get_user(catalog.catalog.db, name)
        if user is not None:
            labels.append(user_label(user.id))
    if not labels:
        return set()
    with catalog.catalog.reading() as s:
        rows = s.scalars(
            select(AssetAccess.asset_id).where(
                AssetAccess.relation == "owner", AssetAccess.principal.in_(labels)
            )
        )
        return set(rows)


def sized(catalog: CatalogView, filters: Filters) -> set[str]:
    df = catalog.snapshot().assets
    rng = filters.size_bytes
    if rng.min is not None:
        df = df.filter(pl.col("size_bytes") >= rng.min)
    if rng.max is not None:
        df = df.filter(pl.col("size_bytes") <= rng.max)
    return set(df["asset_id"].to_list())


def within(
    catalog: CatalogView,
    filters: Filters | None,
    principal: Principal,
    scope: frozenset[str] | None,
) -> frozenset[str] | None:
    """`scope` (a collection, a person, or None for everything) narrowed by the size and
    owner filters; only what the principal may read is ever in it."""
    if filters is None or (filters.size_bytes is None and not filters.owners):
        return scope
    found = set(catalog.visible_ids(principal)) if scope is None else set(scope)
    if filters.size_bytes is not None:
        found &= sized(catalog, filters)
    if filters.owners:
        found &= owned_by(catalog, filters.owners)
    return frozenset(found)
