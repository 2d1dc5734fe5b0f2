"""Dagster wiring: assets, checks, sensors, jobs, partitions, resources and the
per-deployment choices. Everything here is thin and calls the plain Python below it."""
