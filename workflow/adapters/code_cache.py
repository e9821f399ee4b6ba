"""The code the standard library generates while passend's modules are imported, compiled once
and kept, so a command-line process does not compile it again on every start.

Why: `passend case show` is a new process every time (issue 17: at most 3x a plain sqlite3 loop
reading the same rows, start-up included). Defining a dataclass writes the source of its
`__init__`, `__repr__`, `__eq__`, `__setattr__`, ... and compiles it (`dataclasses` calls
`exec` on the text); a NamedTuple compiles each of its string annotations (`typing.ForwardRef`)
and its `__new__` (`collections.namedtuple` calls `eval` on its text).
For the sixty-odd such classes a read of one case imports, that compiling was about a sixth of
the whole command's instructions, every time, for text that never changes.

`install()` makes `dataclasses`' `exec`, `typing`'s `compile` and `collections`' `eval` look a text up in a table of
code objects first: the code object of a text is what compiling that text gives, so a class is
built exactly as before. The table is a `marshal` file in the cache folder
(holiday_cache.default_folder), one per Python build (marshal's format and the bytecode are
the interpreter's own) and program (a `case show` reads the table of its own sixty-odd
classes, not one that also holds those of every other command a user ran: reading the code
it does not use cost it as much as a module), written back at exit when a process compiled
something new. Only the
command line installs it: a long-running process (the web app, the reminder service) starts
once. A file that is missing, unreadable or not a table is ignored and written again; one that
cannot be written leaves things as they were. Like Python's own `__pycache__`, it holds code the
user's processes run: it lives in that user's cache folder, made for the user alone.
"""

from __future__ import annotations

import atexit
import builtins
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

_compile = builtins.compile
_exec = builtins.exec
_eval = builtins.eval
_codes: dict[tuple[str, str], CodeType] = {}
_state = {"new": False, "installed": False}


def _code(source: str, mode: str) -> CodeType:
    code = _codes.get((mode, source))
    if code is None:
        code = _codes[(mode, source)] = _compile(source, "<string>", mode)
        _state["new"] = True
    return code


def cached_exec(source: Any, globals_: Any = None, locals_: Any = None, /) -> None:
    """`exec` as dataclasses calls it (a text, globals, a namespace), the text compiled once."""
    _exec(_code(source, "exec") if type(source) is str else source, globals_, locals_)


def cached_eval(source: Any, globals_: Any = None, locals_: Any = None, /) -> Any:
    """`eval` as collections.namedtuple calls it (the text of a `__new__`), compiled once."""
    return _eval(_code(source, "eval") if type(source) is str else source, globals_, locals_)


def cached_compile(source: Any, filename: Any, mode: Any, *args: Any, **kwargs: Any) -> Any:
    """`compile` as typing.ForwardRef calls it (a text, '<string>', 'eval'); any other call as is."""
    if type(source) is str and filename == "<string>" and mode == "eval" and not args and not kwargs:
        return _code(source, "eval")
    return _compile(source, filename, mode, *args, **kwargs)


def cache_file(folder: Path, program: str = "cli") -> Path:
    return folder / f"code-{program}-{sys.implementation.cache_tag}-{sys.hexversion:x}.marshal"


def install(folder: Path, program: str = "cli") -> bool:
    """Read `program`'s table from `folder` and put the lookups in place, once per process:
    whether this call did (False: an earlier one had)."""
    if _state["installed"]:
        return False
    _state["installed"] = True
    path = cache_file(folder, program)
    try:
        # loads of the bytes, not load of the file: load reads a file object piece by piece
        # through its Python methods, 13x the instructions for this table
        table = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        table = None
    if isinstance(table, dict):
        _codes.update((k, v) for k, v in table.items()
                      if type(k) is tuple and len(k) == 2 and isinstance(v, CodeType))
    import collections
    import dataclasses
    import typing

    dataclasses.exec = cached_exec  # type: ignore[attr-defined]  # a module global before the builtin
    typing.compile = cached_compile  # type: ignore[attr-defined]
    collections.eval = cached_eval  # type: ignore[attr-defined]
    atexit.register(_save, path)
    return True


def _save(path: Path) -> None:
    """Write the table back when something new was compiled (atomically: a reader never sees
    half a file); where it cannot be written, nothing happens."""
    if not _state["new"]:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                marshal.dump(_codes, f)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except (OSError, ValueError):
        return
