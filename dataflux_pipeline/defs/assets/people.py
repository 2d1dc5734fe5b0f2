"""Stage 4c: the faces of the contents this partition holds join people (opt-in face
recognition: DATAFLUX_FACE_RECOGNITION). Runs after the index step, which made this
partition's analyses current, so only faces of current analyses are counted."""

import dagster as dg
import numpy as np
import polars as pl
from sqlalchemy import select

from dataflux_pipeline.analyzers.vision.faces import FACES_SPACE
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.catalog.people import assign
from dataflux_pipeline.defs.partitions import batch_partitions
from dataflux_pipeline.defs.resources import AnalyzersResource, CatalogResource, StorageResource


@dg.asset(
    name="people",
    deps=["search_index", "descriptors"],
    partitions_def=batch_partitions,
    group_name="serving",
    kinds={"sqlite"},
)
def people(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    catalog: CatalogResource,
    analyzers: AnalyzersResource,
) -> dg.MaterializeResult:
    """New faces join the person they look most like (cosine of FaceNet embeddings at
    DATAFLUX_FACE_MATCH_THRESHOLD), or start a new one."""
    live = catalog.catalog()
    partition_key = context.partition_key
    with live.reading() as s:
        current = set(
            s.scalars(select(Asset.asset_id).where(Asset.analysis_partition == partition_key))
        )
    rows = storage.tables.read("descriptors", partition_key)
    faces = rows.filter((pl.col("space") == FACES_SPACE) & pl.col("asset_id").is_in(list(current)))
    found = assign(
        live,
        {
            r["segment_id"]: (r["asset_id"], np.asarray(r["vector"], np.float64))
            for r in faces.iter_rows(named=True)
        },
        analyzers.settings().face_match_threshold,
    )
    return dg.MaterializeResult(
        metadata={
            "faces": faces.height,
            "faces_assigned": len(found),
            "people_touched": len(set(found.values())),
        }
    )
