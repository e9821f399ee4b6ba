"""RFC 3161: the day's root is timestamped by a real local TSA (OpenSSL's), the token stored and
checked (imprint, nonce, signature), checked again by `audit verify --witness`, and verified by
OpenSSL itself; a service that answers garbage leaves no token and the tick goes on."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.reminders_support import Clock, clocked_engine, free_port, to_niveau_4
from tests.tsa_support import local_tsa
from tests.witness_support import witness_extra
from workflow.bootstrap import reminder_service
from workflow.domain.instants import SCHOOL_TZ
from workflow.service_layer.witness import record
from workflow.service_layer.witness.check import check
from workflow.service_layer.witness.tsa import TimestampError, check_token

D0 = dt.date(2026, 10, 5)
EVENING = dt.datetime(2026, 10, 5, 19, tzinfo=SCHOOL_TZ).astimezone(dt.UTC)


def test_the_root_is_timestamped_stored_and_checked(tmp_path: Path, sqlite_url: str) -> None:
    with local_tsa(tmp_path / "tsa") as (url, requests, cert):
        cfg = write_config(tmp_path, sqlite_url, extra=witness_extra(free_port(), to=(), tsa_url=url))
        engine = clocked_engine(cfg, Clock(D0))
        to_niveau_4(engine)
        service = reminder_service(engine, now=lambda: EVENING)
        service.tick()
        service.tick()  # a token already: not asked again
    assert len(requests) == 1
    with engine.uow(write=False) as uow:
        root = uow.witness.latest()
        assert root is not None and root.id is not None
        stamp = uow.witness.timestamp(root.id)
        assert stamp is not None and stamp.tsa_url == url
        rec = record.as_record(root)
        imprint = hashlib.sha256(record.canonical(rec)).digest()
        assert abs(stamp.gen_time - stamp.received_at) < dt.timedelta(minutes=5)
        assert check_token(stamp.token, imprint) == stamp.gen_time
        with pytest.raises(TimestampError):
            check_token(stamp.token, hashlib.sha256(b"another root").digest())
        assert check(uow, [rec]).ok
        forged = {**rec, "events": rec["events"] + 1}  # a record the token does not cover
        kinds = [f.kind for f in check(uow, [forged]).findings]
        assert "timestamp_mismatch" in kinds
    # OpenSSL verifies the stored token on its own, against the record's bytes.
    data, token = tmp_path / "record.json", tmp_path / "token.der"
    data.write_bytes(record.canonical(rec))
    token.write_bytes(stamp.token)
    r = subprocess.run(["openssl", "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in",
                        "-CAfile", str(cert)], capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0 and "Verification: OK" in r.stdout, r.stdout + r.stderr
    engine.db.dispose()


def test_a_tsa_that_is_down_leaves_no_token_and_the_tick_goes_on(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()  # nothing listens there
    cfg = write_config(tmp_path, sqlite_url, extra=witness_extra(free_port(), to=(),
                                                                   tsa_url=f"http://127.0.0.1:{port}/tsa"))
    engine = clocked_engine(cfg, Clock(D0))
    to_niveau_4(engine)
    result: dict[str, Any] = reminder_service(engine, now=lambda: EVENING).tick()
    assert result["witness"] == 0
    with engine.uow(write=False) as uow:
        root = uow.witness.latest()
        assert root is not None and root.id is not None and uow.witness.timestamp(root.id) is None
    engine.db.dispose()
