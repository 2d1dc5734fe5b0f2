"""HTTP search over the catalog: reads Parquet and LanceDB, never writes them."""
