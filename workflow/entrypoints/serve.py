"""`passend serve`: tick the reminder service on an interval with APScheduler 3.

APScheduler's pitfalls, and how they are avoided here:
- Job stores must never be shared between processes: the job store is in memory, one per
  process. Two services on one database are kept apart by the outbox claims, not by APScheduler.
- By default a run that fell due while the process was down or busy is dropped
  (misfire_grace_time=1) and missed runs are merged: `job_defaults` set misfire_grace_time=None
  and coalesce=True, and the first tick runs at start-up, so whatever became due during the
  downtime is planned and sent at once (planning looks at state, not at missed ticks).
- Stored jobs are pickled: the job is a module-level function taking plain arguments.
- The timezone is explicit (Europe/Amsterdam); a tick never depends on the host's zone.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from typing import Any

from workflow.adapters.logs import get_logger
from workflow.domain.instants import SCHOOL_TZ

log = get_logger("passend.serve")
_services: dict[str, Any] = {}  # job id -> ReminderService; the job itself stays picklable
_health: dict[str, Any] = {}  # job id -> ServiceHealth (workflow.entrypoints.health), when served


def tick(service_id: str) -> None:
    """One scheduled tick: plan and dispatch. Errors are logged, never raised into the scheduler;
    what it did goes to the health metrics."""
    service = _services[service_id]
    health = _health.get(service_id)
    started = time.time()
    try:
        result = service.tick()
        if any(result.values()):
            log.info("serve.tick", **result)
    except Exception as exc:  # the service must survive a database or mail outage
        from workflow.adapters.problems import explain

        known = explain(exc)  # a full disk, a timeout, a database gone: its clear line, safe by design
        detail = {"error": known.message} if known is not None else {}
        log.error("serve.tick_failed", error_type=type(exc).__name__, **detail)
        result = None
    if health is not None:
        health.record(started, result)


def make_scheduler() -> Any:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    return BlockingScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=SCHOOL_TZ,
    )


def serve(service: Any, *, ticks: int | None = None, health_at: tuple[str, int] | None = None) -> int:
    """Run until SIGTERM/SIGINT (or after `ticks` ticks); returns the number of ticks run.
    `health_at`: (host, port) where /healthz and /metrics are served meanwhile."""
    if ticks is not None:
        for _ in range(ticks):
            tick_id = "once"
            _services[tick_id] = service
            tick(tick_id)
        return ticks
    service_id = f"reminders-{id(service)}"
    _services[service_id] = service
    server = None
    if health_at is not None:
        from workflow.entrypoints.health import HealthServer, ServiceHealth

        health = ServiceHealth(service.engine.store, service.settings.tick_seconds)
        server = HealthServer(health, *health_at).start()
        _health[service_id] = health
        log.info("serve.health", host=health_at[0], port=server.port)
    scheduler = make_scheduler()
    scheduler.add_job(
        tick, "interval", args=[service_id], id=service_id, seconds=service.settings.tick_seconds,
        next_run_time=dt.datetime.now(SCHOOL_TZ),  # catch up at once after a restart
    )

    def stop(signum: int, _frame: Any) -> None:
        log.info("serve.stopping", signal=signum)
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serve.started", tick_seconds=service.settings.tick_seconds, notifier=service.notifier.describe())
    try:
        scheduler.start()
    finally:
        service.notifier.close()
        _services.pop(service_id, None)
        _health.pop(service_id, None)
        if server is not None:
            server.stop()
        log.info("serve.stopped")
    return 0
