"""Fixed-window counters against guessing: sign-in links per address and per IP, codes per user,
OIDC starts per IP.

A counter (the `Throttle` port) holds when its window began and how many attempts it holds. The
rule is here: an attempt in a window that ended starts a new one; an attempt counts against the
limit of its window. The store makes counting race-free (`Throttle.lock`), so two requests in
the same unit of work's place never count from the same old value. Keys never hold an e-mail
address as such (see links.py).
"""

from __future__ import annotations

import datetime as dt

from workflow.adapters.ports import UnitOfWork


def hit(uow: UnitOfWork, key: str, *, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
    """Count one attempt under `key`; True while the window holds at most `limit` of them."""
    start, count = uow.throttle.lock(key, now)
    if start <= now - window:
        uow.throttle.put(key, now, 1)
        return limit >= 1
    uow.throttle.put(key, start, count + 1)
    return count + 1 <= limit


def over(uow: UnitOfWork, key: str, *, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
    """Whether `key` has used up its window already (without counting)."""
    got = uow.throttle.get(key)
    return got is not None and got[0] > now - window and got[1] >= limit


def clear(uow: UnitOfWork, key: str) -> None:
    uow.throttle.clear(key)


def purge(uow: UnitOfWork, *, older_than: dt.datetime) -> None:
    """Forget counters whose window ended long ago (they hold IP addresses)."""
    uow.throttle.purge(older_than=older_than)
