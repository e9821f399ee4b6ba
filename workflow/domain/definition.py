"""Process definitions: a TOML file of states, triggers, transitions and guards, loaded and checked.

A school or SWV changes its process by editing data, so every mistake in that data must surface
at load time with the file and the key that is wrong, never as a surprise mid-transition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from workflow.domain import upcasts as _upcasts
from workflow.domain.deadline_defs import DeadlineDef, parse_deadlines
from workflow.domain.errors import DefinitionError, Said
from workflow.domain.evidence import BUILTIN_KINDS, EvidenceKind
from workflow.domain.guards import Guard, parse_guard
from workflow.domain.kinds import parse_kind
from workflow.domain.opp import OppSpec, parse_opp

TOP_LEVEL_KEYS = {
    "process", "roles", "consent", "evidence", "states", "triggers", "transitions", "deadlines", "upcasts",
    "opp", "import", "migrate",
}


@dataclass(frozen=True)
class StateDef:
    """A state of the process, with its label and level."""

    name: str
    label: str
    level: int | None
    final: bool = False
    pauses_deadlines: bool = False


@dataclass(frozen=True)
class ParamDef:
    """A parameter a trigger asks for, and the choices it allows."""

    name: str
    required: bool
    choices: tuple[str, ...] | None
    label: str = ""
    choice_labels: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def choice_label(self, value: Any) -> str:
        for k, v in self.choice_labels:
            if k == value:
                return v
        return str(value).replace("_", " ")


@dataclass(frozen=True)
class TriggerDef:
    """A step of the process: its label, parameters and transitions."""

    name: str
    label: str
    params: dict[str, ParamDef]


@dataclass(frozen=True)
class TransitionDef:
    """One edge. Several may share a trigger and source; the first whose `when` and guards hold wins."""

    index: int
    trigger: str
    source: str
    dest: str
    roles: tuple[str, ...]
    guards: tuple[Guard, ...]
    when: dict[str, tuple[str, ...]]
    close_reason: str | None = None
    ends_opp: bool = False
    adopts_opp: bool = False
    revises_opp: bool = False  # read by the compliance report (OOGO before a revision)


@dataclass(frozen=True, eq=False)
class ProcessDefinition:
    """One version of a process, as read from its TOML file and checked."""

    id: str
    version: int
    title: str
    path: str
    initial: str
    roles: dict[str, str]
    read_only_roles: frozenset[str]
    open_roles: frozenset[str]
    consent_scopes: tuple[str, ...]
    evidence_roles: dict[str, frozenset[str]]
    states: dict[str, StateDef]
    triggers: dict[str, TriggerDef]
    transitions: tuple[TransitionDef, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)
    deadlines: tuple[DeadlineDef, ...] = ()
    # Scopes that share data with another party: a grant must say with whom, why and on what basis.
    sharing_scopes: tuple[str, ...] = ()
    # The built-in evidence kinds and the ones this file declares, by name.
    evidence_kinds: dict[str, EvidenceKind] = field(default_factory=lambda: dict(BUILTIN_KINDS))
    consent_labels: dict[str, str] = field(default_factory=dict)
    # The OPP document's parts and profiles ([opp]); None: this process keeps no OPP text.
    opp: OppSpec | None = None
    # The states a case may be imported at ([import] states; default every state that is not
    # final and does not pause the clocks).
    importable: tuple[str, ...] = ()
    # How open cases of an earlier version move to this one ([migrate]): that version, and its
    # states mapped to this version's.
    migrate_from: int | None = None
    migrate_states: dict[str, str] = field(default_factory=dict)
    migrate_roles: frozenset[str] = frozenset()

    def scope_label(self, scope: str) -> str:
        return self.consent_labels.get(scope) or scope.replace("_", " ")

    def edge(self, trigger: str, source: str, dest: str) -> TransitionDef | None:
        """The transition a recorded event took (first declared, as `decide` picks)."""
        for t in self.candidates(trigger, source):
            if t.dest == dest:
                return t
        return None

    @property
    def adopted_states(self) -> frozenset[str]:
        """States in which an OPP is always in force: those an adopting step enters, and those
        reached only from them without a step that ends it (the BOT referral)."""
        got = {t.dest for t in self.transitions if t.adopts_opp}
        changed = True
        while changed:
            changed = False
            for name, sd in self.states.items():
                incoming = [t for t in self.transitions if t.dest == name]
                if name in got or sd.final or not incoming:
                    continue
                if all(t.source in got and not t.ends_opp for t in incoming):
                    got.add(name)
                    changed = True
        return frozenset(got)

    @property
    def draft_states(self) -> frozenset[str]:
        """States in which the OPP is drafted: those an adopting step leaves."""
        return frozenset(t.source for t in self.transitions if t.adopts_opp)

    @property
    def secret_fields(self) -> frozenset[str]:
        """Every secret field of every evidence kind this definition knows (for log redaction)."""
        return frozenset(n for k in self.evidence_kinds.values() for n in k.secret_names)

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    def candidates(self, trigger: str, source: str) -> tuple[TransitionDef, ...]:
        """Transitions of `trigger` leaving `source`, in the order the file declares them."""
        return self._edges.get((trigger, source), ())

    @cached_property
    def _edges(self) -> dict[tuple[str, str], tuple[TransitionDef, ...]]:
        # Built on first use: every command asks, and the transitions never change.
        edges: dict[tuple[str, str], list[TransitionDef]] = {}
        for t in self.transitions:
            edges.setdefault((t.trigger, t.source), []).append(t)
        return {k: tuple(v) for k, v in edges.items()}

    def triggers_from(self, source: str) -> list[str]:
        seen: list[str] = []
        for t in self.transitions:
            if t.source == source and t.trigger not in seen:
                seen.append(t.trigger)
        return seen

    def level_of(self, state: str) -> int | None:
        return self.states[state].level


class _KeyedError(DefinitionError):
    """A definition error that remembers its key, so the loader can add the line."""

    def __init__(self, message: Said, key: str) -> None:
        super().__init__(message)
        self.said = message
        self.key = key


# Patterns, not compiled ones: `re` compiles (and keeps) them when a line is first looked for,
# which only a broken file needs; compiled here, they cost every command's start (issue 17).
_KEY_PART = r"\[(\d+)\]|([^.\[\]]+)"
_HEADER = r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$"


def _line_of(text: str, key: str) -> int | None:
    """The 1-based line a key like `transitions[2].guards[0].where.kind` is on, or None.

    A best effort over the usual layout of a definition file (tables, arrays of tables, one
    inline guard table per line); when unsure it names the table's header line or nothing.
    """
    lines = text.splitlines()
    parts: list[str | int] = [int(i) if i else n for i, n in re.findall(_KEY_PART, key)]
    headers = [(n, m.group(2), m.group(1) == "[[") for n, line in enumerate(lines)
               if (m := re.match(_HEADER, line))]
    start, rest = -1, parts
    if len(parts) >= 2 and isinstance(parts[0], str) and isinstance(parts[1], int):
        arrays = [n for n, name, is_array in headers if is_array and name == parts[0]]
        if parts[1] >= len(arrays):
            return None
        start, rest = arrays[parts[1]], parts[2:]
    else:
        for k in range(len(parts), 0, -1):
            if not all(isinstance(x, str) for x in parts[:k]):
                continue
            name = ".".join(str(x) for x in parts[:k])
            found = [n for n, h, is_array in headers if not is_array and h == name]
            if found:
                start, rest = found[0], parts[k:]
                break
        else:
            if len(parts) > 1:
                return None
    end = next((n for n, _, _ in headers if n > start), len(lines))
    if not rest:
        return start + 1 if start >= 0 else None
    first = rest[0]
    if not isinstance(first, str):
        return start + 1 if start >= 0 else None
    at = next((n for n in range(start + 1, end)
               if re.match(rf"^\s*{re.escape(first)}\s*(=|\.)", lines[n])), None)
    if at is None:
        return start + 1 if start >= 0 else None
    if len(rest) > 1 and isinstance(rest[1], int):
        items = [n for n in range(at + 1, end) if lines[n].lstrip().startswith("{")]
        if rest[1] < len(items) and "{" not in lines[at]:
            at = items[rest[1]]
    return at + 1


class _Ctx:
    """Carries the file name so every error names file and key."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str | Said) -> DefinitionError:
        return _KeyedError(Said("def.at", path=self.path, key=key, problem=problem), key)

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, Said("def.must_be_table"))
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, Said("def.must_be_text"))
        return value

    def boolean(self, value: Any, key: str, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, Said("def.must_be_bool"))
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, Said("def.must_be_texts"))
        return tuple(value)

    def no_unknown(self, table: dict[str, Any], allowed: set[str], key: str) -> None:
        for k in table:
            if k not in allowed:
                where = f"{key}.{k}" if key else k
                raise self.fail(where, Said("def.unknown_key", allowed=", ".join(sorted(allowed))))


TomlParser = Callable[[str], dict[str, Any]]


def _tomllib_loads(text: str) -> dict[str, Any]:
    """`tomllib.loads`, imported when a text is parsed: a process whose definitions are all kept
    parsed (see use_toml_parser) never imports tomllib (issue 17)."""
    import tomllib

    return tomllib.loads(text)


_parse_toml: TomlParser = _tomllib_loads


def use_toml_parser(parse: TomlParser) -> None:
    """How a definition file's text becomes its table: `tomllib.loads`, unless the composition
    root puts a cache in front of it (workflow.adapters.toml_cache): parsing the installed
    definitions was most of a `case show`'s own work (issue 17). `parse` must give what
    tomllib.loads gives, a new table each call, and raise its TOMLDecodeError."""
    global _parse_toml
    _parse_toml = parse


def load_definition(path: str | Path) -> ProcessDefinition:
    """Read and validate one definition file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        raw = _parse_toml(text)
    except FileNotFoundError as exc:
        raise DefinitionError(Said("def.load.not_found", path=str(p))) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(Said("def.load.unreadable", path=str(p), error=type(exc).__name__)) from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError, a ValueError
        raise DefinitionError(_invalid_toml(str(p), str(exc))) from exc
    try:
        return parse_definition(raw, str(p))
    except _KeyedError as exc:
        line = _line_of(text, exc.key)
        if line is None:
            raise
        raise DefinitionError(Said("def.load.at_line", message=exc.said, line=line)) from None


_TOML_AT = r"^(.*?)\s*\(at line (\d+), column (\d+)\)$"


def _invalid_toml(path: str, error: str) -> Said:
    """The parser's complaint, its place in the reader's words: tomllib ends its message with
    "(at line N, column M)"; what it says before that is its own (English) and is kept."""
    m = re.match(_TOML_AT, error, re.DOTALL)
    if m is None:
        return Said("def.load.invalid_toml", path=path, error=error)
    return Said("def.load.invalid_toml_at", path=path, error=m.group(1), line=int(m.group(2)),
                column=int(m.group(3)))


def parse_definition(raw: dict[str, Any], path: str = "<definition>") -> ProcessDefinition:
    c = _Ctx(path)
    c.no_unknown(raw, TOP_LEVEL_KEYS, "")
    proc = c.table(raw.get("process"), "process")
    c.no_unknown(
        proc,
        {"id", "version", "title", "initial", "default_roles", "open_roles", "read_only_roles"},
        "process",
    )
    pid = c.string(proc.get("id"), "process.id")
    version = proc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise c.fail("process.version", Said("def.process.version"))

    roles_raw = c.table(raw.get("roles"), "roles")
    roles = {c.string(k, "roles"): c.string(v, f"roles.{k}") for k, v in roles_raw.items()}

    def known_roles(value: Any, key: str) -> tuple[str, ...]:
        rs = c.strings(value, key)
        for r in rs:
            if r not in roles:
                raise c.fail(key, Said("def.process.unknown_role", role=r, roles=", ".join(roles)))
        return rs

    read_only = frozenset(known_roles(proc.get("read_only_roles", []), "process.read_only_roles"))

    def writer_roles(value: Any, key: str) -> tuple[str, ...]:
        rs = known_roles(value, key)
        for r in rs:
            if r in read_only:
                raise c.fail(key, Said("def.process.read_only_role", role=r))
        return rs

    default_roles = writer_roles(proc.get("default_roles", ["ib"]), "process.default_roles")
    open_roles = frozenset(writer_roles(proc.get("open_roles", default_roles), "process.open_roles"))

    consent = c.table(raw.get("consent", {"scopes": []}), "consent")
    c.no_unknown(consent, {"scopes", "sharing", "labels"}, "consent")
    scopes = c.strings(consent.get("scopes", []), "consent.scopes") if consent.get("scopes") else ()
    sharing = c.strings(consent.get("sharing", []), "consent.sharing") if consent.get("sharing") else ()
    for scope in sharing:
        if scope not in scopes:
            raise c.fail("consent.sharing", Said("def.consent.unknown_scope", scope=scope, declared=", ".join(scopes)))
    consent_labels = {str(k): c.string(v, f"consent.labels.{k}")
                      for k, v in c.table(consent.get("labels", {}), "consent.labels").items()}
    for scope in consent_labels:
        if scope not in scopes:
            raise c.fail(f"consent.labels.{scope}", Said("def.consent.label_unknown_scope", declared=", ".join(scopes)))

    opp = parse_opp(raw.get("opp"), fail=c.fail, scopes=scopes)

    ev_raw = c.table(raw.get("evidence", {}), "evidence")
    evidence_roles: dict[str, frozenset[str]] = {}
    kinds: dict[str, EvidenceKind] = dict(BUILTIN_KINDS)
    for kind, spec in ev_raw.items():
        key = f"evidence.{kind}"
        spec = c.table(spec, key)
        if kind in BUILTIN_KINDS:
            c.no_unknown(spec, {"roles"}, key)
        elif "fields" not in spec:
            raise c.fail(key, Said("def.evidence.unknown_kind", known=", ".join(kinds)))
        else:
            kinds[kind] = parse_kind(kind, spec, key, c.fail)
        evidence_roles[kind] = frozenset(writer_roles(spec.get("roles", default_roles), key + ".roles"))
    for kind in kinds:  # a kind the file does not mention is recorded by the default roles
        evidence_roles.setdefault(kind, frozenset(default_roles))

    states: dict[str, StateDef] = {}
    for name, spec in c.table(raw.get("states"), "states").items():
        key = f"states.{name}"
        spec = c.table(spec, key)
        c.no_unknown(spec, {"level", "label", "final", "pauses_deadlines"}, key)
        level = spec.get("level")
        final = c.boolean(spec.get("final"), key + ".final")
        if level is None and not final:
            raise c.fail(key + ".level", Said("def.state.needs_level"))
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 0):
            raise c.fail(key + ".level", Said("def.state.level"))
        states[name] = StateDef(
            name=name,
            label=str(spec.get("label", name)),
            level=level,
            final=final,
            pauses_deadlines=c.boolean(spec.get("pauses_deadlines"), key + ".pauses_deadlines"),
        )
    if not states:
        raise c.fail("states", Said("def.state.none"))
    initial = c.string(proc.get("initial"), "process.initial")
    if initial not in states or states[initial].final:
        raise c.fail("process.initial", Said("def.process.initial", state=initial))

    triggers: dict[str, TriggerDef] = {}
    for name, spec in c.table(raw.get("triggers"), "triggers").items():
        key = f"triggers.{name}"
        spec = c.table(spec, key)
        c.no_unknown(spec, {"label", "params"}, key)
        params: dict[str, ParamDef] = {}
        for pname, pspec in c.table(spec.get("params", {}), key + ".params").items():
            pkey = f"{key}.params.{pname}"
            pspec = c.table(pspec, pkey)
            c.no_unknown(pspec, {"required", "choices", "label", "labels"}, pkey)
            choices = c.strings(pspec["choices"], pkey + ".choices") if "choices" in pspec else None
            labels = c.table(pspec.get("labels", {}), pkey + ".labels")
            for v in labels:
                if choices is None or v not in choices:
                    raise c.fail(f"{pkey}.labels.{v}", Said("def.param.not_a_choice"))
            params[pname] = ParamDef(
                pname, c.boolean(pspec.get("required"), pkey + ".required"), choices,
                label=c.string(pspec["label"], pkey + ".label") if "label" in pspec else "",
                choice_labels=tuple((k, c.string(v, f"{pkey}.labels.{k}")) for k, v in labels.items()))
        triggers[name] = TriggerDef(name, str(spec.get("label", name)), params)

    raw_transitions = raw.get("transitions")
    if not isinstance(raw_transitions, list) or not raw_transitions:
        raise c.fail("transitions", Said("def.transition.none"))
    transitions: list[TransitionDef] = []
    for i, spec in enumerate(raw_transitions):
        key = f"transitions[{i}]"
        spec = c.table(spec, key)
        c.no_unknown(
            spec,
            {"trigger", "source", "dest", "roles", "guards", "when", "close_reason", "ends_opp",
             "adopts_opp", "revises_opp"},
            key,
        )
        trigger = c.string(spec.get("trigger"), key + ".trigger")
        if trigger not in triggers:
            raise c.fail(key + ".trigger", Said("def.transition.unknown_trigger", trigger=trigger))
        dest = c.string(spec.get("dest"), key + ".dest")
        if dest not in states:
            raise c.fail(key + ".dest", Said("def.unknown_state", state=dest))
        src_raw = spec.get("source")
        if src_raw == "*":
            sources = tuple(s for s, d in states.items() if not d.final)
        else:
            sources = c.strings(src_raw, key + ".source")
        for s in sources:
            if s not in states:
                raise c.fail(key + ".source", Said("def.unknown_state", state=s))
            if states[s].final:
                raise c.fail(key + ".source", Said("def.transition.source_final", state=s))
        roles_t = writer_roles(spec.get("roles", default_roles), key + ".roles")
        when: dict[str, tuple[str, ...]] = {}
        for pname, values in c.table(spec.get("when", {}), key + ".when").items():
            tdef = triggers[trigger]
            if pname not in tdef.params:
                raise c.fail(f"{key}.when.{pname}", Said("def.transition.no_param", trigger=trigger, param=pname))
            vals = c.strings(values, f"{key}.when.{pname}")
            choices = tdef.params[pname].choices
            for v in vals:
                if choices is not None and v not in choices:
                    raise c.fail(f"{key}.when.{pname}", Said("def.transition.not_a_choice", value=v,
                                                           choices=", ".join(choices)))
            when[pname] = vals
        guards_raw = spec.get("guards", [])
        if not isinstance(guards_raw, list):
            raise c.fail(key + ".guards", Said("def.transition.guards"))
        guards = tuple(
            parse_guard(
                g,
                key=f"{key}.guards[{j}]",
                fail=c.fail,
                states=states,
                scopes=scopes,
                params=triggers[trigger].params,
                kinds=kinds,
                opp=opp,
            )
            for j, g in enumerate(guards_raw)
        )
        close_reason = spec.get("close_reason")
        if close_reason is not None:
            close_reason = c.string(close_reason, key + ".close_reason")
        ends_opp = c.boolean(spec.get("ends_opp"), key + ".ends_opp")
        adopts_opp = c.boolean(spec.get("adopts_opp"), key + ".adopts_opp")
        revises_opp = c.boolean(spec.get("revises_opp"), key + ".revises_opp")
        for s in sources:
            transitions.append(
                TransitionDef(
                    index=i,
                    trigger=trigger,
                    source=s,
                    dest=dest,
                    roles=roles_t,
                    guards=guards,
                    when=when,
                    close_reason=close_reason,
                    ends_opp=ends_opp,
                    adopts_opp=adopts_opp,
                    revises_opp=revises_opp,
                )
            )

    if not any(d.final for d in states.values()):
        raise c.fail("states", Said("def.state.no_final"))
    for name, sdef in states.items():
        if sdef.final and not any(t.dest == name for t in transitions):
            raise c.fail(f"states.{name}", Said("def.state.unreachable"))

    deadlines = parse_deadlines(raw.get("deadlines"), fail=c.fail, states=states, kinds=kinds)
    importable = _parse_import(c, raw.get("import"), states)
    migrate_from, migrate_states = _parse_migrate(c, raw.get("migrate"), version, states)
    migrate_roles = frozenset(writer_roles(c.table(raw.get("migrate", {}), "migrate").get("roles", default_roles),
                                           "migrate.roles"))
    _upcasts.register(pid, version, _upcasts.parse_upcasts(raw.get("upcasts"), fail=c.fail))

    return ProcessDefinition(
        id=pid,
        version=version,
        title=str(proc.get("title", pid)),
        path=path,
        initial=initial,
        roles=roles,
        read_only_roles=read_only,
        open_roles=open_roles,
        consent_scopes=scopes,
        evidence_roles=evidence_roles,
        states=states,
        triggers=triggers,
        transitions=tuple(transitions),
        raw=raw,
        deadlines=deadlines,
        sharing_scopes=sharing,
        evidence_kinds=kinds,
        consent_labels=consent_labels,
        opp=opp,
        importable=importable,
        migrate_from=migrate_from,
        migrate_states=migrate_states,
        migrate_roles=migrate_roles,
    )


def _parse_import(c: _Ctx, raw: Any, states: dict[str, StateDef]) -> tuple[str, ...]:
    """`[import] states`: where an existing case may be brought in (default: every state that
    is not final and does not pause the clocks)."""
    if raw is None:
        return tuple(n for n, sd in states.items() if not sd.final and not sd.pauses_deadlines)
    table = c.table(raw, "import")
    c.no_unknown(table, {"states"}, "import")
    names = c.strings(table.get("states", []), "import.states")
    for n in names:
        if n not in states or states[n].final:
            raise c.fail("import.states", Said("def.import.not_a_state", state=n))
    return names


def _parse_migrate(c: _Ctx, raw: Any, version: int, states: dict[str, StateDef]) -> tuple[int | None, dict[str, str]]:
    """`[migrate] from = N`, `states = { old = "new" }` and `roles` (who may move them, default the
    process's default roles): how open cases of version N move here.
    A state left out cannot be moved (its cases are refused and named)."""
    if raw is None:
        return None, {}
    table = c.table(raw, "migrate")
    c.no_unknown(table, {"from", "states", "roles"}, "migrate")
    source = table.get("from")
    if not isinstance(source, int) or isinstance(source, bool) or not 1 <= source < version:
        raise c.fail("migrate.from", Said("def.migrate.from", last=version - 1))
    mapping: dict[str, str] = {}
    for old, new in c.table(table.get("states"), "migrate.states").items():
        target = c.string(new, f"migrate.states.{old}")
        if target not in states or states[target].final:
            raise c.fail(f"migrate.states.{old}", Said("def.migrate.not_a_state", state=target))
        mapping[str(old)] = target
    if not mapping:
        raise c.fail("migrate.states", Said("def.migrate.none"))
    return source, mapping


class DefinitionRegistry:
    """Every definition version in a folder, so an old case is decided by the version it ran on."""

    def __init__(self, definitions: list[ProcessDefinition], active: ProcessDefinition,
                 broken: dict[str, str | Said] | None = None,
                 broken_keys: dict[tuple[str, int], str | Said] | None = None) -> None:
        self._by_key = {d.key: d for d in definitions}
        self.active = active
        # Files in the folder that did not load: path -> the error (file, key, line). They stop
        # only the cases of the version they hold (`get` names the file), nothing else. Kept as
        # said (a `Said`), so each reads in the language in force when it is shown.
        self.broken = dict(broken or {})
        self._broken_keys = dict(broken_keys or {})

    @classmethod
    def from_folder(cls, folder: str | Path, active_file: str | Path) -> DefinitionRegistry:
        active = load_definition(active_file)
        defs: dict[tuple[str, int], ProcessDefinition] = {}
        broken: dict[str, str | Said] = {}
        broken_keys: dict[tuple[str, int], str | Said] = {}
        folder = Path(folder)
        if folder.is_dir():
            for f in sorted(folder.glob("*.toml")):
                try:
                    d = active if f.resolve() == Path(active_file).resolve() else load_definition(f)
                except DefinitionError as exc:
                    said: str | Said = exc.args[0]  # the message as made: rendered when read
                    broken[str(f)] = said
                    key = _declared_key(f)
                    if key is not None:
                        broken_keys[key] = said
                    continue
                if d.key in defs and defs[d.key].raw != d.raw:
                    raise DefinitionError(Said("def.registry.duplicate", path=str(f), process=d.id,
                                               version=d.version, other=defs[d.key].path))
                defs[d.key] = d
        defs[active.key] = active
        return cls(list(defs.values()), active, broken, broken_keys)

    def get(self, process_id: str, version: int) -> ProcessDefinition:
        try:
            return self._by_key[(process_id, version)]
        except KeyError:
            pass
        why = self._broken_keys.get((process_id, version))
        if why is not None:
            raise DefinitionError(Said("def.registry.broken", process=process_id, version=version, why=why))
        raise DefinitionError(Said("def.registry.not_installed", process=process_id, version=version,
                                   unread=_Unread(tuple(self.broken.values()))))

    def all(self) -> list[ProcessDefinition]:
        return sorted(self._by_key.values(), key=lambda d: d.key)


class _Unread:
    """The problems of the files that did not load, each after "; ", read when the sentence that
    holds them is read (each may be a `Said`)."""

    __slots__ = ("problems",)

    def __init__(self, problems: tuple[str | Said, ...]) -> None:
        self.problems = problems

    def __str__(self) -> str:
        return "".join(f"; {m}" for m in self.problems)


def _declared_key(path: Path) -> tuple[str, int] | None:
    """The (id, version) a file that does not load says it holds, when its TOML can be read."""
    try:
        proc = _tomllib_loads(path.read_text(encoding="utf-8")).get("process")
    except (OSError, ValueError):  # UnicodeDecodeError, tomllib.TOMLDecodeError
        return None
    if isinstance(proc, dict) and isinstance(proc.get("id"), str) and type(proc.get("version")) is int:
        return (proc["id"], proc["version"])
    return None
