"""The digest's lines, kept on disk while a digest tick reads every open case.

An IB's daily digest lists every overdue or due-this-week case of its schools, and every case
that waits for parental consent. The lines are only known once the last open case has been
folded, so a digest tick has to keep them somewhere until then: at 1M cases that is some 200 000
lines, and as tuples in memory they raised the peak of a digest tick's planning from 114 to 138 MB.
Capping the list would change what the IB receives, so the lines go to a scratch SQLite database
on disk instead, and each digest streams its own lines back when it is rendered: what the tick
holds no longer grows with the number of lines (the rendered digest itself still does).

The scratch database is SQLite's private temporary database (an empty file name): SQLite creates
it in the temp folder with mode 0600 and unlinks it at once, so no other user can open it, and
its space is returned when the connection is closed or the process ends, even by a crash (the
lines hold case ids and deadline labels, nothing else, but still no file is left behind). Its
page cache is a few MB; what does not fit is written to that file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

# The sections of a digest (the templates' names) whose lines are collected per case.
SECTIONS = ("due_week", "overdue", "consent")
# Pages of the scratch database held in memory (SQLite's cache_size in KiB when negative).
CACHE_KIB = 2048
_FETCH = 100  # lines read back per fetch while a digest is rendered


class DigestLine(NamedTuple):
    """One deadline line of a digest (due this week or overdue), as the templates read it."""

    case_id: str
    school: str
    label: str
    due: str
    school_id: str


class ConsentLine(NamedTuple):
    """One line of "wacht op toestemming van ouders": the consent scopes not yet given."""

    case_id: str
    school: str
    scopes: list[str]
    school_id: str


class DigestLines:
    """Digest lines by school and section, in the order they were added, on disk.

    `add` appends; `section` is a read-only sequence over the lines of some schools (in the
    order of those schools), which the digest templates iterate and count like a list.
    """

    def __init__(self, school_names: dict[str, str]) -> None:
        self._names = school_names
        # isolation_level=None: no implicit transactions; the whole file is scratch, so it has no
        # journal and is never synced (a crash loses it, which is what should happen to it).
        self._db: sqlite3.Connection | None = sqlite3.connect("", isolation_level=None)
        self._db.executescript(
            f"PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -{CACHE_KIB};"
            " CREATE TABLE line (school TEXT NOT NULL, section TEXT NOT NULL, case_id TEXT NOT NULL,"
            "  label TEXT NOT NULL, due TEXT NOT NULL);"
            " CREATE INDEX line_by_section ON line (school, section);"  # rowid: the order added
            " BEGIN;"
        )
        self.count = 0

    def add(self, school_id: str, section: str, case_id: str, label: str, due: str) -> None:
        """One line; for "consent", `label` is the JSON list of scopes and `due` is empty."""
        self._conn().execute("INSERT INTO line VALUES (?, ?, ?, ?, ?)", (school_id, section, case_id, label, due))
        self.count += 1

    def add_consent(self, school_id: str, case_id: str, scopes: list[str]) -> None:
        self.add(school_id, "consent", case_id, json.dumps(scopes, ensure_ascii=False), "")

    def section(self, schools: Sequence[str], section: str) -> Section:
        return Section(self, tuple(schools), section)

    def close(self) -> None:
        """Drop the lines (the file was unlinked when it was made; this returns its space)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the digest lines were dropped before their digest was rendered")
        return self._db

    def _count(self, schools: tuple[str, ...], section: str) -> int:
        conn = self._conn()
        return sum(conn.execute("SELECT count(*) FROM line WHERE school = ? AND section = ?",
                                (s, section)).fetchone()[0] for s in schools)

    def _lines(self, schools: tuple[str, ...], section: str) -> Iterator[Any]:
        conn = self._conn()
        for s in schools:
            name = self._names[s]
            # Reading while the write transaction is still open is fine: same connection.
            cur = conn.execute("SELECT case_id, label, due FROM line WHERE school = ? AND section = ?"
                               " ORDER BY rowid", (s, section))
            try:
                while rows := cur.fetchmany(_FETCH):
                    for case_id, label, due in rows:
                        if section == "consent":
                            yield ConsentLine(case_id, name, json.loads(label), s)
                        else:
                            yield DigestLine(case_id, name, label, due, s)
            finally:
                cur.close()


class Section:
    """The lines of one digest section for some schools: iterated from disk each time, counted
    with a query. What the templates need of a list (for, for-else, length, truth) and no more."""

    def __init__(self, lines: DigestLines, schools: tuple[str, ...], section: str) -> None:
        self._lines = lines
        self._schools = schools
        self._section = section
        self._len: int | None = None

    def __iter__(self) -> Iterator[Any]:
        return self._lines._lines(self._schools, self._section)

    def __len__(self) -> int:
        if self._len is None:
            self._len = self._lines._count(self._schools, self._section)
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:  # never the lines themselves: they name cases
        return f"<digest section {self._section}: {len(self)} lines>"
