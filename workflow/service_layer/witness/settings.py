"""`[witness]` in config.toml, read and checked with one-line errors that name the key.

Witnessing is on when the table is there: each day from `time` (school-local) the reminder
service computes a root and sends it to every address in `to` (through the outbox, once), and
asks the timestamping service at `tsa_url` for a token when one is configured.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.domain.errors import ConfigError
from workflow.messages import text

KEYS = ("to", "time", "tsa_url", "tsa_timeout", "tsa_certificate")
_ADDRESS = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")


@dataclass(frozen=True)
class WitnessSettings:
    to: tuple[str, ...] = ()
    time: dt.time = dt.time(18, 0)
    tsa_url: str | None = None
    tsa_timeout: int = 10
    tsa_certificate: Path | None = None  # PEM: the TSA's own certificate, when it must be that one


def parse_witness(raw: Any, where: str, base: Path) -> WitnessSettings | None:
    """None when config.toml has no `[witness]` (witnessing off)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(text("svc.settings.not_a_table", where=where, section="witness"))

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(text("svc.settings.key_problem", where=where, key=f"witness.{key}", problem=problem))

    for k in raw:
        if k not in KEYS:
            raise fail(k, text("svc.settings.unknown_key", keys=", ".join(KEYS)))
    to = raw.get("to", [])
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not all(isinstance(a, str) and _ADDRESS.fullmatch(a) for a in to):
        raise fail("to", text("svc.witness.to"))
    if len(set(a.lower() for a in to)) != len(to):
        raise fail("to", text("svc.witness.to_twice"))
    try:
        t = raw.get("time", "18:00")
        if not isinstance(t, str):
            raise ValueError
        when = dt.time.fromisoformat(t).replace(tzinfo=None)
    except ValueError:
        raise fail("time", text("svc.settings.time_of_day", example="18:00")) from None
    url = raw.get("tsa_url")
    if url is not None and (not isinstance(url, str) or not re.fullmatch(r"https?://[^\s]+", url)):
        raise fail("tsa_url", text("svc.witness.tsa_url"))
    timeout = raw.get("tsa_timeout", 10)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 120:
        raise fail("tsa_timeout", text("svc.witness.tsa_timeout"))
    cert = raw.get("tsa_certificate")
    cert_path = None
    if cert is not None:
        if not isinstance(cert, str) or not cert:
            raise fail("tsa_certificate", text("svc.witness.tsa_certificate"))
        cert_path = Path(cert).expanduser()
        cert_path = cert_path if cert_path.is_absolute() else base / cert_path
        if not cert_path.is_file():
            raise fail("tsa_certificate", text("svc.witness.tsa_certificate_missing", path=cert_path))
    return WitnessSettings(tuple(to), when, url, timeout, cert_path)
