"""The read commands start without importing what they do not use.

Each `passend` call is a new process, so every module it imports is paid on every call: the web
stack, the PDF renderer, the scheduler, the OIDC client, the read-model classes (sqlmodel and
pydantic, half a second) and the migrations have no part in reading one case or listing cases.
Each command runs in a fresh interpreter, as a person starts it, and the modules it loaded are
read from `sys.modules` at its end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow.service_layer.engine import Engine

REPO = Path(__file__).resolve().parent.parent
HEAVY = {"sqlmodel", "pydantic", "fastapi", "starlette", "uvicorn", "weasyprint", "apscheduler", "authlib",
         "jinja2", "alembic", "httpx", "aiosmtpd", "eventsourcing", "multipart"}
# ... nor, for `case show` on SQLite (issue 17), these
DIRECT_READ = {"sqlalchemy", "psycopg", "transitions", "structlog", "rich", "holidays", "greenlet",
               "click",  # its plain forms skip click too (cli.quick)
               # what the web app's case page asks of the case's read (its parents), and the ports
               "workflow.service_layer.parents", "workflow.adapters.ports",
               "tomllib",  # the config and the definitions are read as kept parsed (toml_cache)
               "threading",  # the holidays' lock is the low-level one (holiday_cache)
               "gettext", "locale"}  # the catalog is read by messages.render.read_mo
PROBE = """
import json, sys
from workflow.entrypoints.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules}
                                                 | {m for m in sys.modules if m.startswith("workflow.")})}),
      file=sys.stderr)
"""


def _imports(config: Path, *args: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PASSEND_DATABASE_URL", None)
    r = subprocess.run([sys.executable, "-c", PROBE, "--config", str(config), *args],
                       capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(r.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, r.stderr
    return set(report["modules"])


@pytest.mark.slow
def test_case_show_and_case_list_leave_the_heavy_modules_out(config_path: Path, db_url: str, engine: Engine) -> None:
    heavy = HEAVY if db_url.startswith("postgresql") else HEAVY | {"psycopg"}  # SQLite's needs no psycopg
    cid = engine.open_case(pupil="P-1", school="de-linde", actor="ib.jansen", group=5)["case_id"]
    engine.db.dispose()
    # the first read keeps the config parsed (adapters.toml_cache), as a person's first read does
    _imports(config_path, "case", "show", cid, "--actor", "ib.jansen")
    for args in (("case", "show", cid, "--actor", "ib.jansen"), ("--json", "case", "show", cid, "--actor", "ib.jansen"),
                 ("case", "list", "--actor", "ib.jansen"), ("--json", "case", "list", "--actor", "ib.jansen")):
        loaded = _imports(config_path, *args)
        assert "workflow" in loaded and not loaded & heavy, (args, sorted(loaded & heavy))
        if args[-4:-2] == ("show", cid) and db_url.startswith("sqlite"):
            # one case on SQLite: straight through the driver (store.direct), nothing of the SQL
            # store, the state machine, structlog (with `rich` when it is installed) or click
            assert not loaded & DIRECT_READ, (args, sorted(loaded & DIRECT_READ))
