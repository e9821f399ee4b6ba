"""Health and Prometheus metrics for the reminder service and the web app.

Both answer `/healthz` (is it working: 200, or 503 with why, as JSON) and `/metrics` (the
Prometheus text format, prometheus-client). What an operator alerts on:

- `passend_outbox_messages{status}`: the outbox's depth by status (pending, sending, sent,
  failed), read from the store at each scrape; `passend_outbox_failed_messages`: the failed ones
  alone (they wait for `passend reminders retry`);
- `passend_events_appended`: events ever appended to the store (the highest event number);
- `passend_store_up`: 1 when the store answered this scrape, else 0;
- the reminder service only: `passend_reminders_last_tick_timestamp_seconds` (when the last tick
  ended), `..._last_tick_duration_seconds`, `..._last_tick_ok` (1/0), `passend_reminders_ticks_total
  {outcome}` and `passend_reminders_messages_total{result}` (sent, retrying, failed, deferred,
  lost_claim), counted since the service started.

The service's `/healthz` is 503 when the store does not answer or the last tick failed or is
older than three tick intervals (and a minute): the scheduler stalled. The reminder service
serves them on its own port (`[serve] health_host`, `health_port`: 127.0.0.1:9464 by default,
0 turns it off) from a thread of the standard library's HTTP server; the web app on its own
routes (workflow.entrypoints.web.health). Neither exposes a case, a person or a message.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from workflow.adapters.ports import FAILED, PENDING, SENDING, SENT, Store
from workflow.domain.errors import ConfigError, Said

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9464
STATUSES = (PENDING, SENDING, SENT, FAILED)


class StoreCollector:
    """The store's gauges, read when Prometheus scrapes (never stale, never a background job)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.up = True

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("passend_store_up", "1 when the store answered this scrape")
        try:
            counts = self.store.outbox.counts()
            events = self.store.events_appended()
        except Exception:  # the store is down or full: say so, never fail the scrape
            self.up = False
            up.add_metric([], 0)
            yield up
            return
        self.up = True
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("passend_outbox_messages", "Outbox messages by status", labels=["status"])
        for status in STATUSES:
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        yield GaugeMetricFamily("passend_outbox_failed_messages", "Messages that failed for good "
                                "(waiting for passend reminders retry)", value=counts.get(FAILED, 0))
        yield GaugeMetricFamily("passend_events_appended", "Events ever appended to the store", value=events)


def store_registry(store: Store) -> tuple[CollectorRegistry, StoreCollector]:
    registry = CollectorRegistry(auto_describe=False)
    collector = StoreCollector(store)
    registry.register(collector)
    return registry, collector


class ServiceHealth:
    """The reminder service's health: the store's gauges plus what its ticks did."""

    def __init__(self, store: Store, tick_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.registry, self.collector = store_registry(store)
        self.store = store
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.started = clock()
        self.last_end: float | None = None
        self.last_ok: bool | None = None
        r = self.registry
        self.g_last = Gauge("passend_reminders_last_tick_timestamp_seconds", "When the last tick ended (Unix time)",
                            registry=r)
        self.g_duration = Gauge("passend_reminders_last_tick_duration_seconds", "How long the last tick took",
                                registry=r)
        self.g_ok = Gauge("passend_reminders_last_tick_ok", "1 when the last tick ended without an error", registry=r)
        self.c_ticks = Counter("passend_reminders_ticks", "Ticks since the service started", ["outcome"], registry=r)
        self.c_messages = Counter("passend_reminders_messages", "Messages handled since the service started",
                                  ["result"], registry=r)

    def record(self, started: float, result: dict[str, int] | None) -> None:
        """One tick that began at `started` (time.time) and gave `result` (None: it failed)."""
        end = self.clock()
        self.last_end, self.last_ok = end, result is not None
        self.g_last.set(end)
        self.g_duration.set(max(0.0, end - started))
        self.g_ok.set(1 if result is not None else 0)
        self.c_ticks.labels("ok" if result is not None else "failed").inc()
        for key in ("sent", "retrying", "failed", "deferred", "lost_claim"):
            if result and result.get(key):
                self.c_messages.labels(key).inc(result[key])

    def status(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for /healthz."""
        now = self.clock()
        limit = 3 * self.tick_seconds + 60
        problems = []
        try:
            self.store.events_appended()
        except Exception:
            problems.append("de database antwoordt niet")
        if self.last_ok is False:
            problems.append("de laatste tik is mislukt (zie het log)")
        since = self.last_end if self.last_end is not None else self.started
        if now - since > limit:
            problems.append(f"geen tik in de laatste {int(limit)} s")
        body = {"status": "fout" if problems else "ok", "problems": problems,
                "last_tick": self.last_end, "last_tick_ok": self.last_ok}
        return (503 if problems else 200), body

    def metrics(self) -> bytes:
        return generate_latest(self.registry)


def address(raw: Any, source: str) -> tuple[str, int] | None:
    """`[serve] health_host` and `health_port` (checked by the config schema); None when off."""
    section = raw if isinstance(raw, dict) else {}
    port = section.get("health_port", DEFAULT_PORT)
    if port == 0:
        return None
    return str(section.get("health_host", DEFAULT_HOST)), int(port)


class HealthServer:
    """/healthz and /metrics of a ServiceHealth, on its own port, in a daemon thread."""

    def __init__(self, health: ServiceHealth, host: str, port: int) -> None:
        handler = _handler(health)
        try:
            self.server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(Said("serve.health.cannot_listen", host=host, port=port,
                                   reason=exc.strerror or type(exc).__name__)) from None
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="passend-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(health: ServiceHealth) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "passend"
        sys_version = ""

        def do_GET(self) -> None:  # the standard library's name
            if self.path == "/healthz":
                status, body = health.status()
                self._answer(status, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, health.metrics())
            else:
                self._answer(404, "text/plain; charset=utf-8", b"niet gevonden\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # the standard library's signature
            """Quiet: a scrape every few seconds is no news for the log."""

    return Handler
