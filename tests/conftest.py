"""Shared fixtures: a real SQLite file per test, and a real PostgreSQL schema per test when
PASSEND_TEST_POSTGRES_URL is set (skipped cleanly otherwise)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli.main import main as cli_main
from workflow.service_layer.engine import Engine

REPO = Path(__file__).resolve().parents[1]
STATES = REPO / "states"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ENV = "PASSEND_TEST_POSTGRES_URL"
# The holiday cache (workflow.adapters.holiday_cache) of this test run, not the user's.
os.environ.setdefault("PASSEND_CACHE_DIR", str(Path(__import__("tempfile").mkdtemp(prefix="passend-cache-"))))

CONFIG_TEMPLATE = """
[database]
url = "{url}"

[security]
master_key_file = "var/master.key"

[process]
definition = "{definition}"
folder = "{folder}"

[logging]
level = "warning"

[[schools]]
id = "de-linde"
name = "OBS De Linde"
region = "midden"
days_off = ["2026-10-02"]

[[schools]]
id = "het-anker"
name = "CBS Het Anker"
region = "zuid"

[[users]]
id = "ib.jansen"
role = "ib"
schools = ["de-linde"]
email = "ib@de-linde.school.example"

[[users]]
id = "lk.devries"
role = "leerkracht"
schools = ["de-linde"]
email = "groep5@de-linde.school.example"

[[users]]
id = "dir.bakker"
role = "directeur"
schools = ["de-linde"]
email = "directie@de-linde.school.example"

[[users]]
id = "ib.smit"
role = "ib"
schools = ["het-anker"]
email = "ib@het-anker.school.example"

[[users]]
id = "auditor"
role = "auditor"
schools = ["*"]
"""


@pytest.fixture(autouse=True)
def fresh_logs() -> Iterator[None]:
    """Reset structlog after each test: an in-process CLI run under `capsys` configures it to
    write to a capture stream that pytest closes afterwards, and the next test's logs would go
    there. Unconfigured, the next Engine or CLI run sets it up on the current stderr again."""
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def write_config(
    folder: Path, url: str, *, definition: Path | None = None, defs_folder: Path | None = None,
    extra: str = "",
) -> Path:
    definition = definition or STATES / "passend_po_v1.toml"
    defs_folder = defs_folder or definition.parent
    path = folder / "config.toml"
    # No health port unless a test asks for one: two services started by tests at once (or one
    # left over from another run) must not fight over the default 9464.
    serve = "" if "[serve]" in extra else "\n[serve]\nhealth_port = 0\n"
    path.write_text(
        CONFIG_TEMPLATE.format(url=url, definition=definition, folder=defs_folder) + serve + extra,
        encoding="utf-8",
    )
    return path


def _postgres_schema_url(base: str) -> Iterator[str]:
    """A fresh schema on the test server; the URL points search_path at it."""
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store test runs on a SQLite file, and on PostgreSQL when it is available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'passend.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    yield from _postgres_schema_url(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'passend.db'}"


@pytest.fixture
def config_path(tmp_path: Path, db_url: str) -> Path:
    return write_config(tmp_path, db_url)


@pytest.fixture
def engine(config_path: Path) -> Iterator[Engine]:
    e = bootstrap(config_path, create_key=True)
    e.init()
    yield e
    e.db.dispose()


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], config_path: Path) -> Any:
    """Run `passend ARGS` in-process against the test config; returns code, stdout, stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = cli_main(["--config", str(config_path), *args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
