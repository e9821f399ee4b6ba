"""The `Parents` port's promises, by the same assertions on the in-memory fake, SQLite and
PostgreSQL: rows kept and listed per case, a link used once, a removal that ends the parent's
links and sessions in the same unit (and a rollback that undoes all of it), and purging."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.test_port_contracts import store  # noqa: F401  (the fixture: memory, sqlite, postgres)
from workflow.adapters.ports import ParentRow, Store

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def row(pid: str, case_id: str = "C-AAAA2222", at: dt.datetime = T0) -> ParentRow:
    return ParentRow(pid, case_id, "de-linde", '{"$enc":"v1.n"}', '{"$enc":"v1.e"}', "ib.jansen", at, None)


def test_parents_links_and_sessions(store: Store) -> None:  # noqa: F811
    with store.uow() as uow:
        uow.parents.add(row("P-1"))
        uow.parents.add(row("P-2", at=T0 + dt.timedelta(seconds=1)))
        uow.parents.add(row("P-3", case_id="C-BBBB3333"))
        uow.parents.add_link(link_id="L1", parent_id="P-1", now=T0, expires_at=T0 + dt.timedelta(days=7))
        uow.parents.add_link(link_id="L2", parent_id="P-1", now=T0, expires_at=T0 + dt.timedelta(days=7))
        uow.parents.add_session(session_id="S1", parent_id="P-1", csrf="c", now=T0,
                                expires_at=T0 + dt.timedelta(hours=4))
        uow.commit()
    with store.uow() as uow:
        assert [p.id for p in uow.parents.of_case("C-AAAA2222")] == ["P-1", "P-2"]
        got: Any = uow.parents.link("L1")
        assert got.parent.id == "P-1" and got.used_at is None
        assert uow.parents.use_link("L1", T0) is True
        assert uow.parents.use_link("L1", T0) is False
        s: Any = uow.parents.session("S1")
        assert s.parent.case_id == "C-AAAA2222" and s.csrf == "c"
        uow.parents.touch_session("S1", T0 + dt.timedelta(minutes=5))
        uow.commit()
    with store.uow() as uow:
        assert uow.parents.drop_links("P-1") == 1  # the unused one; the used one stays
        assert uow.parents.remove("P-1", T0) is True
        assert uow.parents.session("S1") is None and uow.parents.link("L1") is None
        uow.rollback()  # undone: all of it
    with store.uow() as uow:
        assert uow.parents.session("S1") is not None and uow.parents.link("L2") is not None
        assert uow.parents.remove("P-1", T0) is True
        assert uow.parents.remove("P-1", T0) is False
        uow.commit()
    with store.uow(write=False) as uow:
        gone: Any = uow.parents.get("P-1")
        assert gone.removed_at == T0 and [p.id for p in uow.parents.of_case("C-AAAA2222")] == ["P-2"]
        assert uow.parents.session("S1") is None and uow.parents.link("L2") is None
    with store.uow() as uow:
        uow.parents.add_session(session_id="S2", parent_id="P-2", csrf="c", now=T0,
                                expires_at=T0 + dt.timedelta(hours=1))
        uow.parents.add_link(link_id="L3", parent_id="P-2", now=T0, expires_at=T0 + dt.timedelta(days=1))
        assert uow.parents.purge(now=T0 + dt.timedelta(days=3)) == 2
        uow.parents.end_session("S2")
        uow.commit()
