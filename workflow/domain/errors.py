"""Errors a user can meet, each with the exit code the CLI documents.

Every error here carries a message that is safe to show and to log: it names cases, triggers,
kinds and fields, never a pupil's name, a note or a view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Renderer = Callable[[str, Mapping[str, Any]], str]


def _unrendered(key: str, values: Mapping[str, Any]) -> str:
    # Only a process that never imported the catalog gets here (a unit test of the bare
    # domain): the key names the sentence; nothing a person runs shows it.
    return key


_render: Renderer = _unrendered


def use_renderer(render: Renderer) -> None:
    """Install the message catalog as the one that turns a `Said` into a sentence. The catalog
    (workflow.messages) calls this when it is imported: the domain may not import it."""
    global _render
    _render = render


class Said:
    """A sentence for a person, kept as its catalog key and values until somebody reads it.

    The domain and the adapters may not import the message catalog (the import contracts keep
    them below it), yet what they refuse is read by people, in plain Dutch. So they say it as a
    key and its values, and the sentence is built when it is read: by then the catalog is
    loaded, and the reader's language (a web request's, a CLI run's) is the one in force. The
    values are ids, numbers and labels, never a pupil's name, note or view."""

    __slots__ = ("key", "values")

    def __init__(self, key: str, /, **values: Any) -> None:
        self.key = key
        self.values = values

    def __str__(self) -> str:
        return _render(self.key, self.values)

    def __repr__(self) -> str:
        return f"Said({self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Said) and (self.key, self.values) == (other.key, other.values)

    def __hash__(self) -> int:
        return hash(self.key)


class PassendError(Exception):
    """Base of every expected failure; the CLI turns it into one line and an exit code.

    `message` (and each of `fields`) may be a `Said`: it is rendered each time it is read."""

    exit_code = 1

    def __init__(self, message: str | Said, *, reasons: list[str] | None = None,
                 details: list[dict[str, Any]] | None = None,
                 fields: Mapping[str, str | Said] | None = None) -> None:
        super().__init__(message)
        self._message = message
        self.reasons: list[str] = list(reasons or [])
        # The reasons as data, when the service layer knows them: {code, params, text} each.
        self.details: list[dict[str, Any]] = list(details or [])
        # Bad input by field: field name -> what is wrong with it, in Dutch (every field at once
        # where the check knows them; a form shows each next to its field).
        self._fields: dict[str, str | Said] = dict(fields or {})

    @property
    def message(self) -> str:
        return str(self._message)

    @property
    def fields(self) -> dict[str, str]:
        return {name: str(problem) for name, problem in self._fields.items()}


class BadInput(PassendError):
    """Usage or input that can never succeed as given (exit 2)."""

    exit_code = 2


class NotFound(BadInput):
    """A case, user, school or trigger that does not exist (exit 2)."""


class DefinitionError(BadInput):
    """A process definition that cannot be loaded; the message names file and key (exit 2)."""


class ConfigError(BadInput):
    """A config.toml that cannot be used; the message names file and key (exit 2)."""


class Refused(PassendError):
    """A guard or a role refused the command; `reasons` lists every one (exit 3)."""

    exit_code = 3


class Conflict(PassendError):
    """Another writer changed the case first; nothing of this command was stored (exit 4)."""

    exit_code = 4


class IntegrityError(PassendError):
    """A case's stored events cannot be folded into a case (exit 5, as for a failed audit).

    Only a store changed around the engine gets here (rows edited, deleted or reordered despite
    the append-only triggers), so the message sends the user to `passend audit verify`, which
    names the broken event, instead of an "interne fout" that hides it.
    """

    exit_code = 5


class StoreProblem(PassendError):
    """The store cannot be used as it is: not a database, a full disk, a read-only file or file
    system, a server that cannot be reached (exit 1). The message says what to do; nothing of the
    command was stored."""

    exit_code = 1


class SchemaMismatch(BadInput):
    """The database's schema is not this version's: never set up or older (`passend init`), or
    newer (upgrade passend). Found before a command reads or writes anything (exit 2)."""
