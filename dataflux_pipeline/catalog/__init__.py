"""The live catalog: what is in the catalog *now*. Source paths and the content they hold,
which contents are live, what was deleted and must stay out, and the event log. Batch
partitions are units of work; every reader (the index, the service, the checks) is a
projection of this state."""

from dataflux_pipeline.catalog.store import Catalog, Change

__all__ = ["Catalog", "Change"]
