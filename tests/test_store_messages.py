"""The store's one-line errors come from the message catalog (`store.*`; `serve.*` for the
composition root and the health port, `demo.*` for the demo generator), never as inline Dutch or
English: an operator reads them in the language set (`PASSEND_LANGUAGE`, Dutch by default), and
the wording lives in one place, the catalogs (workflow/messages/locale/{nl,en}/LC_MESSAGES/passend.po).

The scan reads FILES with Python's own parser. A message is inline when a string literal or an
f-string (or strings glued with + or %) is what an exception is made with (its first argument),
when words (two runs of letters with a space between) stand anywhere in the arguments of such a
call or of a call in a `raise`, or when a module constant holding words is what an exception is
made with. An exception no person reads (a broken invariant of the code) is allowed by name below,
each with its reason. What the scan cannot see: a message built in a variable first, a
constant imported from another file (memory.database's LOST), or a sentence kept in a dict (the
OS errors' table); review keeps those out.

The keys these files say are in both catalogs with the placeholders the code fills in, and no
entry of theirs is left that nothing uses. The database's name in a line is a sentence of the
catalog too (`store.label.*`): "de database x.db", in English "the database x.db".
"""

from __future__ import annotations

import ast
import builtins
import errno
import importlib
import re
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workflow.messages  # noqa: F401  (installs the catalog as the renderer of Said)
from workflow.domain import errors as domain_errors
from workflow.domain.errors import PassendError

from .catalog_support import call_name, in_both_catalogs, is_str, po_catalog
from .conftest import write_config

REPO = Path(__file__).resolve().parents[1]
FILES = sorted(
    [*(REPO / "workflow/adapters/store").glob("*.py"), *(REPO / "workflow/adapters/memory").glob("*.py"),
     *(REPO / "workflow/demo").glob("*.py")]
    + [REPO / "workflow/adapters" / name for name in ("files.py", "access_file.py", "problems.py", "projection.py")]
    + [REPO / "workflow/bootstrap.py", REPO / "workflow/entrypoints/health.py"])
# Keys these files own; serve.* beyond these two is another part's (the service's own lines).
PREFIXES = ("store.", "demo.", "serve.bootstrap.", "serve.health.")
KEY = re.compile(r"(store|demo|serve)(\.[a-z_]+)+")
WORDS = re.compile(r"[^\W\d_]+\s+[^\W\d_]+", re.UNICODE)
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)

# (file under workflow/, exception, the start of its message): why no person reads it.
ALLOWED = {
    ("adapters/store/group.py", "RuntimeError", "a writing unit of work opened inside another"):
        "a programming error: the code never nests writing units on one thread",
    ("adapters/store/group.py", "RuntimeError", "this unit of work has ended"):
        "a programming error: nothing uses a unit after its commit",
    ("adapters/store/group.py", "RuntimeError", "the shared transaction was lost"):
        "an invariant of the group commit's own bookkeeping",
    ("adapters/store/types.py", "ValueError", "UTCDateTime needs an aware datetime"):
        "a programming error: the code stores aware datetimes only",
    ("adapters/store/users.py", "AssertionError", "unreachable"):
        "an assertion after a loop that always returns or raises",
    ("demo/population.py", "RuntimeError", "no free case id prefix left"):
        "cannot happen in practice (100 random tries of 32,768 prefixes); a defect if it does",
    ("demo/population.py", "RuntimeError", "generator: "):
        "an invariant of the generator's own walk through the process",
}


def _worded(node: ast.AST) -> list[str]:
    """Words written into `node` (a key such as "store.read_only" has none)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if WORDS.search(node.value) else []
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return [ast.unparse(node)] if LETTERS.search(parts) else []
    found: list[str] = []
    for child in ast.iter_child_nodes(node):
        found += _worded(child)
    return found


def _exception_names(module: Any) -> set[str]:
    """The names that make an exception in `module`: its own and imported classes, the
    builtins', and the domain's errors (a module may import one inside a function)."""
    spaces = [vars(module), vars(builtins), vars(domain_errors)]
    return {name for space in spaces for name, value in space.items()
            if isinstance(value, type) and issubclass(value, BaseException)}


def inline_messages(source: str, exceptions: set[str]) -> list[tuple[int, str, str]]:
    """(line, the call's name, the inline message) of every message written into `source`."""
    tree = ast.parse(source)
    held = {t.id for node in tree.body if isinstance(node, ast.Assign) and is_str(node.value)
            and _worded(node.value) for t in node.targets if isinstance(t, ast.Name)}  # a message in a constant
    in_raise: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            in_raise.update(id(n) for n in ast.walk(node.exc) if isinstance(n, ast.Call))
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node.func)
        maker = name in exceptions
        if name is None or not (maker or id(node) in in_raise):
            continue
        first = node.args[0] if node.args else None
        if maker and first is not None and (is_str(first) or (isinstance(first, ast.Name) and first.id in held)):
            found.append((node.lineno, name, ast.unparse(first)))
            continue
        for child in [*node.args, *(k.value for k in node.keywords)]:
            found += [(node.lineno, name, words) for words in _worded(child)]
    return sorted(set(found))


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _found() -> Iterator[tuple[Path, int, str, str, bool]]:
    """(file, line, exception, message, allowed) of every inline message in FILES."""
    for path in FILES:
        names = _exception_names(importlib.import_module(_module(path)))
        where = path.relative_to(REPO / "workflow").as_posix()
        for line, name, message in inline_messages(path.read_text(encoding="utf-8"), names):
            plain = message.strip("'\"").removeprefix("f'").removeprefix('f"')
            allowed = [a for a in ALLOWED if a[0] == where and a[1] == name and plain.startswith(a[2])]
            yield path, line, name, message, bool(allowed)


def test_the_store_writes_no_message_of_its_own() -> None:
    found = [f"{path.relative_to(REPO)}:{line}: {name}({message})"
             for path, line, name, message, allowed in _found() if not allowed]
    assert found == [], "put these in passend.po (nl and en) as store.<area>.<what> and raise Said(...)"


def test_every_allowance_is_still_needed() -> None:
    used = set()
    for path, _, name, message, _ in _found():
        where = path.relative_to(REPO / "workflow").as_posix()
        plain = message.strip("'\"").removeprefix("f'").removeprefix('f"')
        used |= {a for a in ALLOWED if a[0] == where and a[1] == name and plain.startswith(a[2])}
    assert used == set(ALLOWED)


def test_the_scan_finds_inline_messages_where_they_are() -> None:
    """The scan itself: a literal, an f-string, a glued string, a constant with words and words
    given to any call in a raise are found; a Said, a key, an id and a constant key are not."""
    source = '''
NOTHING = "er is niets opgeslagen"
LOST = Said("store.conflict.lost")
KEY = "store.read_only"


def f(x, label, path):
    raise StoreProblem(f"{label} is geen SQLite-database")
    raise BadInput("--pupils: minstens 1")
    raise Conflict("casus " + x)
    raise Conflict(NOTHING)
    raise wrap(x, "kan niet schrijven naar het bestand")
    raise Conflict(LOST)
    raise StoreProblem(Said("store.sqlite.full", label=label))
    raise BadInput(Said(KEY, path=str(path)))
    raise ConfigError(Said("store.os.is_folder", path=path or Said("store.os.the_path")))
    raise exc.DisconnectionError() from None
'''
    found = [(line, name) for line, name, _ in inline_messages(source, {"StoreProblem", "BadInput", "Conflict",
                                                                        "ConfigError"})]
    assert found == [(8, "StoreProblem"), (9, "BadInput"), (10, "Conflict"), (11, "Conflict"), (12, "wrap")]


# ---- the keys --------------------------------------------------------------------------------


def _key_uses() -> list[tuple[str, str, set[str] | None]]:
    """(where, key, the names it fills in) of every Said("...") in FILES, and (where, key, None)
    of every key written apart from its Said (the OS errors' table)."""
    uses: list[tuple[str, str, set[str] | None]] = []
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(REPO))
        in_said: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and call_name(node.func) == "Said" and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                uses.append((f"{where}:{node.lineno}", node.args[0].value, {str(k.arg) for k in node.keywords}))
                in_said.add(id(node.args[0]))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_said \
                    and KEY.fullmatch(node.value):
                uses.append((f"{where}:{node.lineno}", node.value, None))
    return uses


def test_every_key_the_store_says_is_in_both_catalogs_with_its_placeholders() -> None:
    uses = _key_uses()
    assert len({key for _, key, _ in uses}) > 60  # the scan sees the code
    for where, key, names in uses:
        assert key.startswith(PREFIXES), f"{where}: {key}"
        in_both_catalogs(where, key, names)


def test_no_store_entry_is_left_unused() -> None:
    used = {key for _, key, _ in _key_uses()}
    assert [k for k in po_catalog("nl") if k.startswith(PREFIXES) and k not in used] == []


# ---- the language ----------------------------------------------------------------------------
def _both(monkeypatch: pytest.MonkeyPatch, err: PassendError) -> tuple[str, str]:
    """The same error read in Dutch (the default) and in English: a Said is rendered each time
    it is read, in the language in force then."""
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    dutch = err.message
    monkeypatch.setenv("PASSEND_LANGUAGE", "en")
    english = err.message
    assert str(err) == english  # what the CLI prints reads the same
    monkeypatch.delenv("PASSEND_LANGUAGE", raising=False)
    return dutch, english


def _raised(call: Any, *args: Any, **kwargs: Any) -> PassendError:
    with pytest.raises(PassendError) as err:
        call(*args, **kwargs)
    return err.value


def _connect(url: str) -> Any:
    from workflow.adapters.store.sqlstore import SqlStore

    return SqlStore.connect(url, existing=True)


def test_a_database_problem_names_the_database_in_the_reader_s_language(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    junk = tmp_path / "boodschappen.db"
    junk.write_bytes(b"dit is een boodschappenlijstje, geen database\n" * 100)
    assert _both(monkeypatch, _raised(_connect, f"sqlite:///{junk}")) == (
        f"de database {junk} is geen SQLite-database (kijk database.url na)",
        f"the database {junk} is not a SQLite database (check database.url)")
    empty = tmp_path / "leeg.db"
    sqlite3.connect(empty).close()
    assert _both(monkeypatch, _raised(_connect, f"sqlite:///{empty}")) == (
        f"de database {empty} is nog niet ingericht: voer eerst 'passend init' uit",
        f"the database {empty} has not been set up yet: run 'passend init' first")
    nope = tmp_path / "nergens.db"
    err = _raised(_connect, f"sqlite:///{nope}")
    assert err.exit_code == 2 and _both(monkeypatch, err) == (
        f"de database {nope} bestaat niet: voer eerst 'passend init' uit (of kijk database.url na)",
        f"the database {nope} does not exist: run 'passend init' first (or check database.url)")
    assert not nope.exists()


def test_a_server_is_named_by_its_database_and_host_never_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow.adapters.store import problems

    label = problems.describe("postgresql+psycopg://passend:geheim@db.school.nl:5432/leerlingzorg")
    assert _both(monkeypatch, problems.read_only(label)) == (
        "de database leerlingzorg op db.school.nl is alleen-lezen: schrijven kan hier niet; er is niets opgeslagen",
        "the database leerlingzorg on db.school.nl is read-only: nothing can be written here; nothing was stored")
    assert _both(monkeypatch, problems.newer(("0099",), label))[1] == (
        "the database leerlingzorg on db.school.nl was updated by a newer version of passend (schema 0099): "
        "upgrade passend; nothing was read or written")


def test_a_backup_and_the_files_around_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workflow.adapters.access_file import FileAccessLog
    from workflow.adapters.files import PrivateFiles
    from workflow.adapters.problems import explain
    from workflow.adapters.store.backup import copy_file

    junk = tmp_path / "lijstje.txt"
    junk.write_text("geen database\n", encoding="utf-8")
    assert _both(monkeypatch, _raised(copy_file, junk, tmp_path / "kopie.db", PrivateFiles())) == (
        f"{junk} is geen SQLite-database (geen back-up van passend)",
        f"{junk} is not a SQLite database (not a backup of passend)")
    assert _both(monkeypatch, _raised(FileAccessLog, tmp_path)) == (
        f"--access-log: {tmp_path} is een map; daar hoort een bestand",
        f"--access-log: {tmp_path} is a folder; a file belongs there")
    with pytest.raises(OSError) as os_error:
        (tmp_path / "geen-map" / "x.db").open("w")
    found = explain(os_error.value)
    assert found is not None and _both(monkeypatch, found) == (
        f"{tmp_path / 'geen-map' / 'x.db'} bestaat niet", f"{tmp_path / 'geen-map' / 'x.db'} does not exist")
    found = explain(OSError(errno.ENOSPC, "No space left on device", str(junk)))
    assert found is not None and found.exit_code == 1 and _both(monkeypatch, found) == (
        f"de schijf is vol ({junk}); er is niets opgeslagen", f"the disk is full ({junk}); nothing was stored")


def test_a_conflict_and_a_retry_of_what_did_not_fail(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import datetime as dt

    from workflow.adapters.store.problems import database_problem
    from workflow.bootstrap import bootstrap

    db = tmp_path / "passend.db"
    engine = bootstrap(write_config(tmp_path, f"sqlite:///{db}"), create_key=True)
    try:
        engine.init()
        err = _raised(engine.store.outbox.retry_failed, dt.datetime.now(dt.UTC), [7, 9])
        assert _both(monkeypatch, err) == (
            "geen mislukt bericht: #7, #9 (zie passend reminders list --failed); er is niets veranderd",
            "not a failed message: #7, #9 (see passend reminders list --failed); nothing was changed")
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            other = sqlite3.connect(db, timeout=0)
            with pytest.raises(sqlite3.OperationalError) as locked:
                other.execute("BEGIN EXCLUSIVE")
            other.close()
        finally:
            holder.rollback()
            holder.close()
        busy = database_problem(locked.value)
        assert busy is not None and busy.exit_code == 4 and _both(monkeypatch, busy) == (
            f"de database {db} is bezet door een andere schrijver (langer dan de wachttijd); probeer het opnieuw; "
            "er is niets opgeslagen",
            f"the database {db} is busy with another writer (longer than the wait time); try again; "
            "nothing was stored")
    finally:
        engine.db.dispose()


def test_the_service_s_config_and_health_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The notifier's 'must be a table' was English whatever the language: now Dutch by default."""
    from workflow.bootstrap import bootstrap, make_notifier
    from workflow.entrypoints.health import HealthServer

    cfg = write_config(tmp_path, "memory://")
    engine = bootstrap(cfg, create_key=True)
    engine.config.raw["notifier"] = "smtp"
    assert _both(monkeypatch, _raised(make_notifier, engine)) == (
        f"{cfg}: notifier: moet een tabel zijn", f"{cfg}: notifier: must be a table")
    assert _both(monkeypatch, _raised(engine.store.backup, tmp_path / "kopie.db", None)) == (
        "de opslag in het geheugen (memory://) verdwijnt met het proces: er is niets te bewaren",
        "the store in memory (memory://) goes away with the process: there is nothing to keep")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dutch, english = _both(monkeypatch, _raised(HealthServer, None, "127.0.0.1", port))
    assert dutch.startswith(f"[serve] health_host/health_port: kan niet luisteren op 127.0.0.1:{port} (")
    assert dutch.endswith("); kies een andere poort of 0 (uit)")
    assert english.startswith(f"[serve] health_host/health_port: cannot listen on 127.0.0.1:{port} (")
    assert english.endswith("); choose another port or 0 (off)")


def test_the_demo_generator_s_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workflow.bootstrap import bootstrap
    from workflow.demo.population import populate

    engine = bootstrap(write_config(tmp_path, "memory://"), create_key=True)
    assert _both(monkeypatch, _raised(populate, engine, pupils=0)) == (
        "--pupils: minstens 1", "--pupils: at least 1")
    assert _both(monkeypatch, _raised(populate, engine, pupils=32**5)) == (
        "--pupils: hooguit 33554431 per keer", "--pupils: at most 33554431 at a time")
    assert _both(monkeypatch, _raised(populate, engine, pupils=1, years=11)) == (
        "--years: tussen 0 en 10", "--years: between 0 and 10")
