"""Where bytes and rows live: the object store, the Parquet tables and their schemas, and
the LanceDB index (a writer for the pipeline, a reader for the service)."""
