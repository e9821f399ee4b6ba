"""Helpers for the deadline and reminder tests: a movable clock and quick walks through the process."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import os
import random
import socket
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.engine_support import walk_to_niveau_4
from workflow.bootstrap import bootstrap
from workflow.service_layer.engine import Engine

IB, LK = "ib.jansen", "lk.devries"
AMS = ZoneInfo("Europe/Amsterdam")


class Clock:
    """The engine's clock, set per step so events carry the day the test means."""

    def __init__(self, day: dt.date, hour: int = 10) -> None:
        self.now = dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, day: dt.date, hour: int = 10) -> None:
        self.now = dt.datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(dt.UTC)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(AMS).date()


def clocked_engine(config_path: Path, clock: Clock) -> Engine:
    e = bootstrap(config_path, create_key=True, clock=clock)
    e.init()
    return e


def to_niveau_4(engine: Engine, *, school: str = "de-linde", pupil: str = "LL-1",
                ib: str = IB, lk: str | None = LK) -> str:
    """Open a case (groep 5) and walk it to niveau_4 on the clock's current day."""
    return walk_to_niveau_4(engine, pupil, ib, lk or ib, school=school, group=5)


def adopt_opp(engine: Engine, cid: str, *, ib: str = IB) -> None:
    """From niveau_4 to an adopted OPP on the clock's current day."""
    engine.fire(cid, "start_opp", actor=ib)
    engine.record("meeting", cid, actor=ib, kind="oogo", participants="ouders")
    engine.record("consent", cid, actor=ib, scope="opp_handelingsdeel", status="granted", by="vader")
    engine.record("view", cid, actor=ib, party="ouders", text="eens")
    engine.record("view", cid, actor=ib, party="leerling", text="ok")
    engine.fire(cid, "adopt_opp", actor=ib)


def deadline(view: dict, name: str) -> dict | None:
    return next((d for d in view["deadlines"] if d["name"] == name), None)


# ---- a real SMTP server on loopback (aiosmtpd) ----------------------------------------------


_PORTS_FROM, _PORTS_TO = 10_000, 30_000  # below Linux's default ephemeral range (32768-60999)
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nothing listens on: for aiosmtpd's Controller (it does not take port 0) and
    for a mail server that is down. A test writes the port into its config before the server
    starts, so it must stay free meanwhile. A port from bind(0) would not: it lies in the kernel's
    ephemeral range, which every outgoing connection (PostgreSQL clients, in other xdist workers
    too) and every other bind(0) draws from. So the port comes from below that range, from this
    xdist worker's own slice, at random (another run of the suite may share the machine), and
    never twice in one process."""
    if _ephemeral_start() < _PORTS_TO:  # an unusual kernel setting: fall back to the kernel's pick
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    width = (_PORTS_TO - _PORTS_FROM) // max(workers, 1)
    start = _PORTS_FROM + (int(worker) % max(workers, 1) if worker.isdigit() else 0) * width
    for _ in range(1000):
        port = start + random.randrange(width)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # someone listens there
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port between {start} and {start + width}")


class Inbox:
    """An aiosmtpd handler that keeps what arrives; `refuse` makes the next N DATA commands fail."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 probeer het later"
            self.raw.append(envelope.original_content or envelope.content)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(b, policy=policy.default) for b in self.raw]  # type: ignore[misc]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages()]


@contextlib.contextmanager
def smtp_server(port: int | None = None, inbox: Inbox | None = None, **kwargs: Any) -> Iterator[tuple[int, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = inbox or Inbox()
    for attempt in range(5):
        chosen = port or free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=chosen, **kwargs)
        try:
            controller.start()
            break
        except OSError:  # taken since it was chosen: a port of our own choosing may be retried
            if port is not None or attempt == 4:
                raise
    port = chosen
    try:
        yield port, inbox
    finally:
        controller.stop()


def smtp_extra(port: int, **reminders: Any) -> str:
    """config.toml sections for the reminder tests: SMTP on loopback, quick retries."""
    settings = {"backoff_seconds": 0, "max_attempts": 3, "send_time": "07:00", "digest_time": "07:00",
                "digest": False, **reminders}
    lines = ["", "[reminders]"]
    for k, v in settings.items():
        lines.append(f"{k} = {_toml(v)}")
    lines += ["", "[notifier]", 'backend = "smtp"', 'host = "127.0.0.1"', f"port = {port}",
              'security = "none"', 'from = "passend@test.example"', "timeout = 5", ""]
    return "\n".join(lines)


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def eml_files(folder: Path) -> list[EmailMessage]:
    """The mails the file notifier wrote to `folder` (one .eml each), in name order."""
    out = []
    for f in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(f.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out
