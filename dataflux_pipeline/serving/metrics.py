"""Prometheus metrics: requests and latency per route template, index rows per space.

A plain ASGI middleware (no per-request task or body buffering) keeps the overhead to a
few microseconds; labels use the route template, so ids in paths add no series."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IndexCollector:
    """Reads the index at scrape time, so the numbers are never stale."""

    def __init__(self, index) -> None:
        self.index = index

    def collect(self):
        rows = GaugeMetricFamily(
            "dataflux_index_rows", "Rows per embedding space", labels=["space"]
        )
        version = GaugeMetricFamily(
            "dataflux_index_version", "Table version served per space", labels=["space"]
        )
        for space in self.index.spaces():
            info = self.index.info(space)
            rows.add_metric([space], info["rows"])
            version.add_metric([space], info["version"])
        yield rows
        yield version


class Metrics:
    def __init__(self, index) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dataflux_requests",
            "HTTP requests by route and status",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dataflux_request_seconds",
            "Request latency by route",
            ["method", "endpoint"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(IndexCollector(index))

    def middleware(self, app: Callable) -> Callable:
        async def wrapped(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            t0 = time.perf_counter()
            status = [500]

            async def send_status(message):
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("route")
                endpoint = getattr(route, "path", None) or "unmatched"
                method = scope.get("method", "")
                self.latency.labels(method, endpoint).observe(time.perf_counter() - t0)
                self.requests.labels(method, endpoint, str(status[0])).inc()

        return wrapped
