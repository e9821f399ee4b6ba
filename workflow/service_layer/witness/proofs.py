"""The export's inclusion proofs: each exported case's head in the newest witness root.

Why: a checker that holds a root a witness kept (a mail, `verify_export.py --witness`) can then
see, from the export alone, that each case's history up to its witnessed head is the one the
witness saw, without the other cases' heads. One line per exported case that the root holds, in
case id order, as canonical JSON (sorted keys, no spaces) and a line feed:

    {"case_id":"C-ABCD2345","head_hash":"...","index":41,"path":["...", ...],"seq":12}

`index` is the leaf's position in the root's tree, `path` the RFC 6962 audit path, lowest level
first (docs/event-chain.md, "Witnessing"). The tree's levels go to a temporary file
(merkle.Levels), so the export's memory does not grow with the number of cases.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import IO

from workflow.adapters.ports import UnitOfWork, WitnessRoot
from workflow.domain.merkle import Levels, leaf_hash


def proof_line(case_id: str, seq: int, head_hash: str, index: int, path: list[str]) -> bytes:
    return json.dumps({"case_id": case_id, "head_hash": head_hash, "index": index, "path": path, "seq": seq},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def write_proofs(uow: UnitOfWork, root: WitnessRoot | None, case_ids: Iterable[str], out: IO[bytes]) -> tuple[int, str]:
    """Write the proof of each of `case_ids` (in case id order) that `root` holds; (lines, SHA-256)."""
    sha = hashlib.sha256()
    if root is None or root.id is None:
        return 0, sha.hexdigest()
    wid = root.id
    with Levels(leaf_hash(*leaf) for leaf in uow.witness.leaves(wid)) as levels:
        n = 0
        wanted = iter(case_ids)
        want = next(wanted, None)
        for index, (cid, seq, head) in enumerate(uow.witness.leaves(wid)):
            while want is not None and want < cid:
                want = next(wanted, None)
            if want is None:
                break
            if want == cid:
                line = proof_line(cid, seq, head, index, levels.proof(index))
                out.write(line)
                sha.update(line)
                n += 1
    return n, sha.hexdigest()
