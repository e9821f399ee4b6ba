"""The command line's cache of the code the standard library generates for dataclasses and
NamedTuples (workflow.adapters.code_cache): a class is built the same from it, a second process
compiles nothing, and a broken file is ignored. Each case runs in a fresh interpreter, as a
command does, so this test process's own dataclasses and typing stay as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = r"""
import json, sys
from pathlib import Path
from workflow.adapters import code_cache
code_cache.install(Path(sys.argv[1]))
import dataclasses
from typing import NamedTuple

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: "int" = 2

class Row(NamedTuple):
    a: "str"
    b: "int | None"

p = Point(1)
try:
    p.x = 3
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(json.dumps({"repr": repr(p), "eq": p == Point(1, 2), "hash": hash(p) == hash(Point(1, 2)),
                  "frozen": frozen, "row": repr(Row("x", None)), "hints": str(Row.__annotations__),
                  "compiled": code_cache._state["new"], "codes": len(code_cache._codes)}))
"""


def _run(folder: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", PROBE, str(folder)], capture_output=True, text=True, env=env,
                       timeout=60, check=True)
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_classes_are_built_the_same_from_the_kept_code(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first["compiled"] and first["frozen"] and first["eq"] and first["hash"]
    assert first["repr"] == "Point(x=1, y=2)" and first["row"] == "Row(a='x', b=None)"
    files = list(tmp_path.glob("code-*.marshal"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    second = _run(tmp_path)
    assert not second["compiled"]  # everything came from the file
    assert {k: v for k, v in second.items() if k != "compiled"} == {k: v for k, v in first.items() if k != "compiled"}
    files[0].write_bytes(b"not marshal at all")  # broken: ignored, and written again
    third = _run(tmp_path)
    assert third["compiled"] and third["repr"] == first["repr"]
    assert _run(tmp_path)["compiled"] is False


def test_each_program_keeps_its_own_table(tmp_path: Path) -> None:
    """`case show`'s quick path reads only its own classes' code (cli.main), not every command's."""
    from workflow.adapters.code_cache import cache_file

    assert cache_file(tmp_path, "case-show") != cache_file(tmp_path) == cache_file(tmp_path, "cli")
