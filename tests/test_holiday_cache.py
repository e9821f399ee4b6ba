"""The holiday cache: the same dates as the `holidays` package, computed once per release,
region and year, and a process with a warm cache never imports `holidays` at all."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_config
from workflow.adapters.holiday_cache import FILE_NAME, HolidayCache
from workflow.domain import calendar
from workflow.domain.calendar import SchoolCalendar, compute_holidays


class Counting:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, subdiv: str, year: int) -> frozenset[dt.date]:
        self.calls.append((subdiv, year))
        return compute_holidays(subdiv, year)


def test_the_cache_gives_the_packages_dates_and_asks_once(tmp_path: Path) -> None:
    counting = Counting()
    cache = HolidayCache(tmp_path, counting, version="1.0")
    for subdiv in ("Noord", "Midden", "Zuid"):
        for year in (2025, 2026, 2027):
            assert cache(subdiv, year) == compute_holidays(subdiv, year)
    assert len(counting.calls) == 9
    again = HolidayCache(tmp_path, Counting(), version="1.0")
    assert again("Zuid", 2026) == compute_holidays("Zuid", 2026)
    assert again.compute.calls == []  # type: ignore[attr-defined]
    assert dt.date(2026, 2, 16) in again("Zuid", 2026)  # voorjaarsvakantie zuid


def test_a_new_release_of_holidays_is_computed_afresh_and_the_old_entries_go(tmp_path: Path) -> None:
    HolidayCache(tmp_path, Counting(), version="1.0")("Midden", 2026)
    newer = HolidayCache(tmp_path, Counting(), version="2.0")
    newer("Midden", 2026)
    assert newer.compute.calls == [("Midden", 2026)]  # type: ignore[attr-defined]
    keys = json.loads((tmp_path / FILE_NAME).read_text())["days"]
    assert list(keys) == ["2.0:Midden:2026"]


@pytest.mark.parametrize("content", ["{not json", '{"format": 1, "days": {"1.0:Midden:2026": ["x"]}}',
                                     '["a list"]', '{"format": 99, "days": {}}'])
def test_a_damaged_or_foreign_file_is_ignored_and_rewritten(tmp_path: Path, content: str) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    cache = HolidayCache(tmp_path, Counting(), version="1.0")
    assert cache("Midden", 2026) == compute_holidays("Midden", 2026)
    assert json.loads((tmp_path / FILE_NAME).read_text())["format"] == 1


def test_a_folder_that_cannot_be_written_still_gives_the_right_dates(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    cache = HolidayCache(blocker, Counting(), version="1.0")
    assert cache("Noord", 2026) == compute_holidays("Noord", 2026)
    assert cache("Noord", 2026) == compute_holidays("Noord", 2026)
    assert not list(tmp_path.glob(".holidays-*"))


def test_the_school_calendar_reads_through_the_installed_source(tmp_path: Path) -> None:
    counting = Counting()
    calendar.use_holiday_source(HolidayCache(tmp_path, counting, version="1.0"))
    try:
        cal = SchoolCalendar("zuid")
        assert not cal.is_school_day(dt.date(2026, 2, 16)) and cal.is_school_day(dt.date(2026, 3, 2))
        assert counting.calls == [("Zuid", 2026)]
    finally:
        calendar.use_holiday_source(compute_holidays)


WARM = """
import sys
from workflow.bootstrap import bootstrap
engine = bootstrap(sys.argv[1], create_key=True)
engine.init()
cid = engine.open_case(pupil="LL-1", school="de-linde", actor="ib.jansen")["case_id"]
engine.record("signal", cid, actor="lk.devries", area="lezen", note="n")
engine.fire(cid, "escalate", actor="lk.devries")
import datetime as dt
today = engine.today()
engine.record("plan", cid, actor="lk.devries", start=today, end=today + dt.timedelta(days=40), goals="g",
              who="lk", frequency="4x")
from workflow.service_layer import queries
print(queries.case(engine, cid, actor="ib.jansen")["deadlines"], file=sys.stderr)
print(cid)
"""
COLD = """
import sys
from workflow.bootstrap import bootstrap
from workflow.service_layer import queries
engine = bootstrap(sys.argv[1], existing=True)
view = queries.case(engine, sys.argv[2], actor="ib.jansen")
assert view["deadlines"], view
print("holidays" in sys.modules)
"""


@pytest.mark.slow
def test_a_process_with_a_warm_cache_never_imports_holidays(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'passend.db'}")
    env = {**os.environ, "PASSEND_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    warm = subprocess.run([sys.executable, "-c", WARM, str(cfg)], env=env, capture_output=True, text=True,
                          timeout=120, check=True, cwd=tmp_path)
    case_id = warm.stdout.strip().splitlines()[-1]
    assert (tmp_path / "cache" / FILE_NAME).exists(), warm.stderr
    cold = subprocess.run([sys.executable, "-c", COLD, str(cfg), case_id], env=env, capture_output=True,
                          text=True, timeout=120, check=True, cwd=tmp_path)
    assert cold.stdout.strip().splitlines()[-1] == "False", cold.stderr
    env["PASSEND_CACHE_DIR"] = str(tmp_path / "empty")
    cold = subprocess.run([sys.executable, "-c", COLD, str(cfg), case_id], env=env, capture_output=True,
                          text=True, timeout=120, check=True, cwd=tmp_path)
    assert cold.stdout.strip().splitlines()[-1] == "True"  # the test would notice a cache that did nothing
