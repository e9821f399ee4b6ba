"""The Merkle tree over every case's head that a witness root commits to (docs/event-chain.md).

Why a tree and not one hash over a list: an export can then carry, for each case, a short proof
(about log2(cases) hashes) that its head is one of the leaves of a root a witness holds, without
the other cases' heads; and a checker needs nothing but SHA-256 to follow it.

The tree is RFC 6962's (Certificate Transparency; RFC 9162 section 2.1), with SHA-256:

- a leaf is one case's head: the canonical JSON (sorted keys, no spaces, UTF-8) of
  `{"case_id": ..., "head_hash": ..., "seq": ...}`; its hash is SHA-256(0x00 || those bytes);
- an inner node is SHA-256(0x01 || left || right) over the two 32-byte child hashes, so a leaf
  can never be passed off as a node or the other way round;
- the leaves stand in increasing case id order (bytewise); the tree over n > 1 leaves splits at
  the largest power of two k < n: node(tree(first k), tree(rest)); one leaf is its own leaf
  hash; the empty tree's hash is SHA-256 of nothing.

That split equals building level by level, pairing neighbours and carrying an odd last node up
unchanged, which is what `Levels` does to produce proofs, and what `RootBuilder` does on a
stream with a stack of at most log2(n) subtrees.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Sequence
from typing import IO

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
TREE = "rfc6962-sha256"  # the name the witness record and the export give this tree


def leaf_bytes(case_id: str, seq: int, head_hash: str) -> bytes:
    """The bytes a leaf hash is taken over (after its 0x00 prefix)."""
    return json.dumps({"case_id": case_id, "head_hash": head_hash, "seq": seq}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(case_id: str, seq: int, head_hash: str) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf_bytes(case_id, seq, head_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


class RootBuilder:
    """The root of a stream of leaves, in memory of log2(n) hashes: a stack of perfect subtrees,
    merged as a binary counter carries, and the rest folded right to left at the end."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (leaves under it, hash), sizes decreasing

    def add(self, leaf: bytes) -> None:
        self.size += 1
        node = (1, leaf)
        while self._stack and self._stack[-1][0] == node[0]:
            size, left = self._stack.pop()
            node = (size * 2, node_hash(left, node[1]))
        self._stack.append(node)

    def root(self) -> str:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _size, left in reversed(self._stack[:-1]):
            acc = node_hash(left, acc)
        return acc.hex()


def root_of(leaves: Iterable[bytes]) -> str:
    b = RootBuilder()
    for leaf in leaves:
        b.add(leaf)
    return b.root()


class Levels:
    """Every level of a tree, kept in a temporary file (32 bytes a node), for inclusion proofs.

    Why a file: an export proves the heads of hundreds of thousands of cases; the levels of a
    million leaves are 64 MB, which the export's memory should not grow by. A proof reads one
    hash a level. Use as a context manager, or call close().
    """

    def __init__(self, leaves: Iterable[bytes]) -> None:
        self._fh: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.offsets: list[tuple[int, int]] = []  # (file offset, nodes) per level, leaves first
        n = 0
        for leaf in leaves:
            self._fh.write(leaf)
            n += 1
        self.size = n
        self.offsets.append((0, n))
        while n > 1:
            start, count = self.offsets[-1]
            out = self._fh.seek(0, 2)
            for i in range(0, count - 1, 2):
                left, right = self._read(start, i), self._read(start, i + 1)
                self._fh.seek(0, 2)
                self._fh.write(node_hash(left, right))
            if count % 2:
                carried = self._read(start, count - 1)
                self._fh.seek(0, 2)
                self._fh.write(carried)
            n = (count + 1) // 2
            self.offsets.append((out, n))

    def _read(self, start: int, i: int) -> bytes:
        self._fh.seek(start + 32 * i)
        return self._fh.read(32)

    def root(self) -> str:
        if self.size == 0:
            return EMPTY_ROOT
        start, _ = self.offsets[-1]
        return self._read(start, 0).hex()

    def proof(self, index: int) -> list[str]:
        """The audit path of leaf `index` (RFC 6962 PATH), lowest level first, as hex."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        path = []
        for start, count in self.offsets[:-1]:
            sibling = index ^ 1
            if sibling < count:
                path.append(self._read(start, sibling).hex())
            index //= 2
        return path

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Levels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def root_from_proof(leaf: bytes, index: int, size: int, path: Sequence[str]) -> str | None:
    """The root that `path` leads to from `leaf` at `index` in a tree of `size` leaves (RFC 9162
    section 2.1.3.2), or None when the path cannot belong to such a tree (wrong length)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p_hex in path:
        p = bytes.fromhex(p_hex)
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r.hex() if sn == 0 else None
