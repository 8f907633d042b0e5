"""Prometheus metrics on a registry per app (several apps can live in one test process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

__all__ = ["Metrics"]


class _Callback(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class Metrics:
    """The counters and gauges of one server process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rounds_http_requests", "HTTP requests by route and status", ["route", "status"],
            registry=self.registry,
        )
        self.sockets = Gauge(
            "rounds_sockets_connected", "Connected Socket.IO clients by namespace", ["namespace"],
            registry=self.registry,
        )
        self.slow_readers = Counter(
            "rounds_socket_slow_readers", "Socket.IO connections closed because they did not read",
            ["namespace"], registry=self.registry,
        )

    def add_collector(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Register a callback producing metrics at scrape time (viewers, publishers, ...)."""
        self.registry.register(_Callback(collect))

    def render(self) -> bytes:
        return generate_latest(self.registry)
