"""`dataflux` for people and scripts, the in-process ingest runner, the demo, and the
sample media the demo, the tests and the benchmarks generate."""
