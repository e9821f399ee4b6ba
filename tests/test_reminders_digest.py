"""The daily digest keeps its lines on disk while a digest tick reads every open case.

An IB's digest lists every overdue or due-this-week case of its schools (and every case that
waits for parental consent). A digest tick only knows them all once the last open case is
folded; it used to keep them as tuples in memory for every IB, which at 1M cases was the largest
part of a digest day's peak. They now go to a scratch SQLite file (workflow.service_layer.reminders.digest)
and each digest streams its lines back when it is rendered. These tests hold it to that: the
digests are byte for byte what the in-memory gathering rendered, nothing of the lines stays in
memory when the digests are handed over, and no scratch file is left behind or readable by
others.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import stat
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.reminders_support import Clock, clocked_engine, to_niveau_4
from tests.test_reminders_work import START, Ticker, at, extra
from workflow.adapters.store import outbox
from workflow.demo.population import populate
from workflow.domain import deadlines as dl
from workflow.domain.worklist import waits_for
from workflow.service_layer.engine import Engine
from workflow.service_layer.reminders import digest, messages, work
from workflow.service_layer.reminders.planner import Due, Planner

# An IB for both schools, so a digest's lines come from two schools, in config order.
BOTH = ('\n[[users]]\nid = "ib.beide"\nrole = "ib"\nschools = ["de-linde", "het-anker"]\n'
        'email = "ib@beide.school.example"\n')
NOW = at(START + dt.timedelta(days=3), 9)
LATER = at(START + dt.timedelta(days=73), 9)  # a Friday, with twice the overdue lines of NOW


def _engine(folder: Path, pupils: int) -> Engine:
    folder.mkdir(exist_ok=True)
    cfg = write_config(folder, f"sqlite:///{folder / 'passend.db'}",
                       extra=extra(folder / "outbox", digest=True) + BOTH)
    engine = clocked_engine(cfg, Clock(START))
    populate(engine, pupils=pupils, seed=11, now=at(START, 6), years=2)
    return engine


def _waiting_for_consent(engine: Engine) -> None:
    """In each school, an OPP that only the parents' consent keeps from being adopted."""
    for school, ib in (("de-linde", "ib.jansen"), ("het-anker", "ib.smit")):
        cid = to_niveau_4(engine, school=school, pupil=f"WT-{school}", ib=ib, lk=ib)
        engine.fire(cid, "start_opp", actor=ib)
        engine.record("meeting", cid, actor=ib, kind="oogo", participants="ouders")
        engine.record("view", cid, actor=ib, party="ouders", text="eens")
        engine.record("view", cid, actor=ib, party="leerling", text="ok")


def in_memory_digests(planner: Planner, now: dt.datetime) -> dict[str, tuple[str, str, str]]:
    """The digests as the planner gathered and rendered them before their lines went to disk:
    every open case folded, each line kept in a list per school and section, the IB's lists
    joined school by school, and Jinja2's own `render`. By recipient: (subject, text, HTML)."""
    today = now.astimezone(messages_tz()).date()
    config = planner.engine.config
    rows: dict[str, dict[str, list[Any]]] = {}
    for case in planner.open_cases():
        if case.school not in config.schools:
            continue
        d = planner.engine.definition_of(case)
        name = config.schools[case.school].name
        for r in dl.running(case, d, today, planner.calendar(case.school)):
            item = {"case_id": case.case_id, "school": name, "label": r.label,
                    "due": messages.date_nl(r.due), "school_id": case.school}
            left = (r.due - today).days
            if left < 0:
                rows.setdefault(case.school, {}).setdefault("overdue", []).append(item)
            elif left <= 6:
                rows.setdefault(case.school, {}).setdefault("due_week", []).append(item)
        scopes = [d.scope_label(s) for s in waits_for(case, d, "ib")]
        if scopes:
            rows.setdefault(case.school, {}).setdefault("consent", []).append(
                {"case_id": case.case_id, "school": name, "scopes": scopes, "school_id": case.school})
    env = messages._env()
    out: dict[str, tuple[str, str, str]] = {}
    for u in planner._digest_users(today, False):
        parts: dict[str, list[Any]] = {"due_week": [], "overdue": [], "consent": [], "erasure": []}
        for s in (s for s in config.schools if u.serves(s)):
            for k, items in rows.get(s, {}).items():
                parts[k].extend(items)
            parts["erasure"].extend(planner._erasure(s, today))
        if not any(parts.values()):
            continue
        ctx = {**parts, "day": messages.date_nl(today), "day_long": messages.date_long(today),
               "actor": u.id, "base_url": planner.base_url, "work_url": planner.base_url + "/"}
        subject = " ".join(env.get_template("digest_subject.txt.j2").render(**ctx).split())
        out[u.id] = (subject, env.get_template("digest.txt.j2").render(**ctx),
                     env.get_template("digest.html.j2").render(**ctx))
    return out


def messages_tz() -> Any:
    from workflow.domain.instants import SCHOOL_TZ

    return SCHOOL_TZ


def test_digests_are_byte_for_byte_what_the_in_memory_gathering_rendered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work, "SCAN_CHUNK", 7)  # lines from many pages
    engine = _engine(tmp_path, 120)
    _waiting_for_consent(engine)
    t = Ticker(engine)
    t.moment = NOW
    planner = t.service.planner()
    expected = in_memory_digests(planner, NOW)
    # Every section and both schools of the two-school IB have lines, so order and joins count.
    _, text, _ = expected["ib.beide"]
    assert "OBS De Linde" in text and "CBS Het Anker" in text
    for heading in ("Deze week af te ronden:", "Termijn verstreken:", "Wacht op toestemming van ouders:"):
        assert f"{heading}\n  - " in text, heading
    assert text.index("OBS De Linde") < text.index("CBS Het Anker")

    # What a tick stores in the outbox (the digests rendered from disk, one at a time) ...
    assert t.service.plan() > 0
    with engine.db.connect() as conn:
        stored = {r.recipient: (r.subject, r.body_text, r.body_html) for r in conn.execute(
            outbox.outbox.select().where(outbox.outbox.c.kind == "digest"))}
    assert set(stored) == set(expected) == {"ib.jansen", "ib.smit", "ib.beide"}
    for who, (subject, text, html) in expected.items():
        got = stored[who]
        assert got[0].encode() == subject.encode(), who
        assert got[1].encode() == text.encode(), who
        assert got[2].encode() == html.encode(), who
    # ... and what `due` hands to render, the lines read after the gathering has ended.
    digests = [i for i in planner.due(NOW) if i.kind == "digest"]
    real = dt.datetime.now(dt.UTC)
    rendered = {i.recipient: planner.render(i, real) for i in digests}
    assert {k: (r["subject"], r["body_text"], r["body_html"]) for k, r in rendered.items()} == expected
    engine.db.dispose()


def _handover(folder: Path, pupils: int) -> tuple[int, int, int]:
    """What the digests of a digest-day tick hold in memory (tracemalloc) when the tick hands
    them over for rendering: the memory in use then, less that in use once they, and the tick,
    are done with. Also the lines they list, and the peak while they are rendered, over the
    memory in use at the hand-over.

    Measured on the day's second digest tick (the first one's digests deleted): it folds every
    open case and gathers the lines again, and plans nothing else, while what the first one
    left in caches (statements, calendars, dates) stays out of the figures."""
    engine = _engine(folder, pupils)
    t = Ticker(engine)
    t.moment = LATER
    assert t.service.plan() > 0
    with engine.db.begin() as conn:
        conn.execute(outbox.outbox.delete().where(outbox.outbox.c.kind == "digest"))
    planner = t.service.planner()
    held = peak = lines = 0
    tracemalloc.start()
    try:
        for w in planner.work_chunks(LATER):
            assert not w.marks and all(i.kind == "digest" for i in w.items)
            if not w.items:
                continue
            gc.collect()  # SQLAlchemy leaves cyclic garbage per page; not what the tick holds
            held = tracemalloc.get_traced_memory()[0]
            lines = sum(len(i.context["parts"][k]) for i in w.items for k in ("overdue", "due_week"))
            tracemalloc.reset_peak()
            _render_each(planner, w.items)
            peak = tracemalloc.get_traced_memory()[1] - held
            if w.lines is not None:
                w.lines.close()
        del w
        gc.collect()
        held -= tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        engine.db.dispose()
    return held, lines, peak


def _render_each(planner: Planner, items: list[Due]) -> None:
    """Render each digest and drop it (in a function: no loop variable keeps the last one)."""
    for i in items:
        planner.render(i, LATER)


@pytest.mark.slow
def test_the_digest_lines_are_not_held_in_memory_as_the_store_grows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(work, "SCAN_CHUNK", 7)
    small, small_lines, small_peak = _handover(tmp_path / "small", 150)
    large, large_lines, large_peak = _handover(tmp_path / "large", 1600)
    print("held", small, large, "lines", small_lines, large_lines, "render peak", small_peak, large_peak)
    assert large_lines > 8 * small_lines > 0
    # Kept in memory until the last open case was read, each line cost ~150 bytes (a tuple and
    # its case id, a list slot for each IB that lists it). On disk, what the digests hold does
    # not follow the lines.
    assert large - small < 20 * (large_lines - small_lines), (small, large)
    # Rendering holds one digest at a time (its text or HTML twice while Jinja2 joins it, and a
    # fetch of lines), not every IB's lines: some 700 bytes a line of the longest digest, and
    # every line is counted here once for its school's IB and once for the IB of both schools.
    assert large_peak - small_peak < 1_000 * (large_lines - small_lines), (small_peak, large_peak)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd (Linux)")
def test_the_scratch_file_is_private_and_gone_after_the_tick(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite writes its temporary database to the file only once the page cache is full.
    monkeypatch.setattr(digest, "CACHE_KIB", 16)
    engine = _engine(tmp_path, 60)
    t = Ticker(engine)
    t.moment = NOW
    planner = t.service.planner()
    seen: list[os.stat_result] = []
    for w in planner.work_chunks(NOW):
        if w.lines is not None:
            # SQLite's temporary database: made 0600 and unlinked at once (no name to open).
            files = _scratch_files()
            assert files, "no scratch file open while the digests wait to be rendered"
            seen.extend(os.stat(f) for f in files)
            w.lines.close()
            with pytest.raises(RuntimeError, match="dropped"):
                list(w.items[0].context["parts"]["overdue"])
    assert seen and all(stat.S_IMODE(s.st_mode) == 0o600 and s.st_nlink == 0 for s in seen)
    assert not _scratch_files()
    engine.db.dispose()


def _scratch_files() -> list[str]:
    """This process's open files that are SQLite temporary files (deleted, named etilqs_*)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            out.append(f"/proc/self/fd/{fd}")
    return out
