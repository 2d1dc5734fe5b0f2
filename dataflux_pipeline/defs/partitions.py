"""One dynamic partition per landed batch of files."""

import dagster as dg

batch_partitions = dg.DynamicPartitionsDefinition(name="batches")
