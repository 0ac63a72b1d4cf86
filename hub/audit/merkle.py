"""The audit log as a Merkle tree after RFC 9162 (Certificate Transparency v2), §2.1.

Hashes are SHA-256 with the RFC's domain separation: a leaf is ``SHA-256(0x00 || entry)``,
an interior node ``SHA-256(0x01 || left || right)``, and the empty tree ``SHA-256()``.
Under the national crypto suite the same construction runs on SM3 (``TreeHash``, ``SM3``:
also 32 bytes): every function takes the tree's hash, SHA-256 by default, and a log's is
its hub's suite (``TreeHash.of``). The
tree of ``n`` leaves splits at ``k``, the largest power of two below ``n`` (§2.1.1), so a
tree that is not a power of two is the complete subtrees of the binary decomposition of
``n``, combined right to left.

Two halves, one module:

- Pure functions with no database (``leaf_hash``, ``node_hash``, ``root``,
  ``root_from_inclusion``, ``verify_inclusion``, ``verify_consistency``): what a partner
  needs to check a proof offline. The verifiers are the algorithms of §2.1.3.2 and
  §2.1.4.2 as the RFC states them.
- ``MerkleTree``: the tree stored in ``audit_tree``, one row per *complete* subtree
  (level 0 = leaf hashes; node (k, i) covers leaves [i·2^k, (i+1)·2^k)). Appending leaf
  ``n`` writes its leaf and every parent it completes: at most log2(N) + 1 rows, in the
  caller's connection, so they commit with the log entry they hash. A root, inclusion
  proof (§2.1.3.1 PATH) or consistency proof (§2.1.4.1 PROOF) for any size up to the
  current one is assembled from at most about 2·log2(N) stored nodes, read in one SELECT;
  the log's entries are never re-read.

Appending is not locked here: the caller serialises appenders (the log's own lock). The
primary key on (level, idx) is the last line, as ``seq`` is for the log: two appenders
that read the same size cannot both write leaf ``n``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, Table, and_, bindparam, func, insert, or_, select

from hub.audit.errors import AuditError
from hub.store.suite import CryptoSuite, GmSuite, PublicKey, SigningKey, suite_of_key
from hub.store.tables import audit_tree

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}), the root of the SHA-256 tree with no leaves."""


@dataclass(frozen=True, slots=True)
class TreeHash:
    """The hash of a tree (``name`` as hashlib knows it) with RFC 9162's domain separation."""

    name: str
    digest: Callable[[bytes], bytes]

    def leaf(self, entry: bytes) -> bytes:
        """H(0x00 || entry)."""
        return self.digest(b"\x00" + entry)

    def node(self, left: bytes, right: bytes) -> bytes:
        """H(0x01 || left || right)."""
        return self.digest(b"\x01" + left + right)

    @property
    def empty(self) -> bytes:
        """MTH({}) = H()."""
        return self.digest(b"")

    @classmethod
    def of(cls, suite: CryptoSuite) -> TreeHash:
        """The tree hash of a crypto suite: SHA-256 (``standard``) or SM3 (``gm``)."""
        known = {"sha256": SHA256, "sm3": SM3}
        return known.get(suite.hash_name) or cls(suite.hash_name, suite.digest)


SHA256 = TreeHash("sha256", lambda data: hashlib.sha256(data).digest())
SM3 = TreeHash("sm3", GmSuite().digest)


def tree_hash_for(key: SigningKey | PublicKey | None) -> TreeHash:
    """The tree hash of a log signed by ``key``: SM3 for an SM2 key, else SHA-256. So a
    verifier holding only the log's public key (a partner, a witness) knows it."""
    return SHA256 if key is None else TreeHash.of(suite_of_key(key))


Node = tuple[int, int]
"""A complete subtree, as (level, idx): it covers leaves [idx·2^level, (idx+1)·2^level)."""


class MerkleError(AuditError):
    """A tree operation or a proof that cannot be done as asked: a size or index out of
    range, a hash that is not 32 bytes, a leaf appended out of order, or a stored node
    missing (the size asked for is beyond the tree, or the table was damaged)."""


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(entries: Sequence[bytes], th: TreeHash = SHA256) -> bytes:
    """MTH(D[n]) of the entries (not their hashes), by the recursion of §2.1.1.

    Hashes every entry: a reference for tests and for a partner holding a whole copy.
    """
    if not entries:
        return th.empty
    if len(entries) == 1:
        return th.leaf(entries[0])
    k = _split(len(entries))
    return th.node(root(entries[:k], th), root(entries[k:], th))


def root_from_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], th: TreeHash = SHA256
) -> bytes:
    """The root that ``proof`` (an inclusion path, §2.1.3.1) leads to from the leaf hash
    ``leaf`` at ``index`` in a tree of ``size`` leaves: steps 2 to 4 of §2.1.3.2.

    Raises ``MerkleError`` where the RFC fails the verification before comparing roots:
    ``index`` not in [0, size), a hash not 32 bytes, or a proof of the wrong length
    (``sn`` reaches 0 before the proof ends, or is not 0 after it).
    """
    if not 0 <= index < size:
        raise MerkleError(f"leaf index {index} is not in a tree of {size} leaves")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise MerkleError("the inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = th.node(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = th.node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise MerkleError("the inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root_hash: bytes,
    th: TreeHash = SHA256,
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size``
    leaves whose root is ``root_hash`` (§2.1.3.2). False also for every case in which
    ``root_from_inclusion`` raises. The leaf hash is the caller's: ``leaf_hash(entry)``.
    """
    try:
        return root_from_inclusion(leaf, index, size, proof, th) == root_hash
    except MerkleError:
        return False


def verify_consistency(
    size1: int,
    size2: int,
    root1: bytes,
    root2: bytes,
    proof: Sequence[bytes],
    th: TreeHash = SHA256,
) -> bool:
    """Whether ``proof`` shows that the tree of ``size1`` leaves with root ``root1`` is a
    prefix of the tree of ``size2`` leaves with root ``root2``.

    For 0 < size1 < size2, the algorithm of §2.1.4.2, hashes checked to be 32 bytes. The
    cases outside it: size1 == size2 holds with an empty proof and equal roots; size1 == 0
    with an empty proof and ``root1`` the empty tree's (every tree extends it); negative
    sizes or size1 > size2 never hold.
    """
    if not 0 <= size1 <= size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof and root1 == th.empty
    if not proof or any(len(h) != HASH_SIZE for h in (root1, root2, *proof)):
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = th.node(c, fr), th.node(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = th.node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


class MerkleTree:
    """The Merkle tree of the audit log, stored in ``table`` (by default ``audit_tree``).

    Every method works in the connection it is given and reads or writes nothing else;
    leaves are 0-based (the log's entry ``seq`` is leaf ``seq - 1``).
    """

    def __init__(self, table: Table = audit_tree, th: TreeHash = SHA256) -> None:
        self.th = th
        self.table = table
        self._queries: dict[int, Select[int, int, bytes]] = {}

    def size(self, conn: Connection) -> int:
        """The number of leaves: one past the highest leaf index stored."""
        c = self.table.c
        highest = conn.execute(select(func.max(c.idx)).where(c.level == 0)).scalar()
        return 0 if highest is None else int(highest) + 1

    def append(self, conn: Connection, leaf: bytes, index: int) -> None:
        """Store the leaf hash ``leaf`` as leaf ``index``, which must be the next one."""
        self.extend(conn, [leaf], index)

    def extend(self, conn: Connection, leaves: Sequence[bytes], start: int) -> None:
        """Store the leaf hashes ``leaves`` as leaves ``start``, ``start + 1``, … and the
        parents they complete: one SELECT of the nodes of the tree's right edge, one
        INSERT (executemany) of every new node.

        Raises ``MerkleError`` unless ``start`` is the tree's current size (a stored leaf
        ``start`` or a missing right-edge node shows it is not) and every hash has 32
        bytes; nothing is written then.
        """
        if not leaves:
            return
        if start < 0:
            raise MerkleError(f"leaf index {start} is negative")
        _check_hashes(leaves)
        edge = _complete_subtrees(0, start)
        found = self._read(conn, [*edge, (0, start)])
        if (0, start) in found:
            raise MerkleError(f"leaf {start} is already in the tree")
        if missing := [node for node in edge if node not in found]:
            raise MerkleError(f"the tree has fewer than {start} leaves (no node {missing[0]})")
        # The right edge: by level, the hash of a left child still waiting for its sibling.
        pending = {level: found[(level, idx)] for level, idx in edge}
        rows: list[dict[str, object]] = []
        for n, hash_ in enumerate(leaves, start):
            level, idx = 0, n
            rows.append({"level": 0, "idx": n, "hash": hash_})
            while idx & 1:
                hash_ = self.th.node(pending.pop(level), hash_)
                level, idx = level + 1, idx >> 1
                rows.append({"level": level, "idx": idx, "hash": hash_})
            pending[level] = hash_
        conn.execute(insert(self.table), rows)

    def root(self, conn: Connection, size: int) -> bytes:
        """MTH of the first ``size`` leaves, from the at most log2(size) complete subtrees
        of its binary decomposition. Raises ``MerkleError`` if the tree has fewer leaves."""
        if size < 0:
            raise MerkleError(f"tree size {size} is negative")
        if size == 0:
            return self.th.empty
        return self._subtree_hashes(conn, [(0, size)], size)[0]

    def inclusion_proof(self, conn: Connection, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) of §2.1.3.1: the sibling hashes from the leaf up.

        Raises ``MerkleError`` unless 0 <= index < size <= the tree's size.
        """
        if not 0 <= index < size:
            raise MerkleError(f"leaf index {index} is not in a tree of {size} leaves")
        return self._subtree_hashes(conn, _inclusion_ranges(index, size), size)

    def consistency_proof(self, conn: Connection, size1: int, size2: int) -> list[bytes]:
        """PROOF(size1, D[size2]) of §2.1.4.1; empty when size1 is 0 or equals size2.

        Raises ``MerkleError`` unless 0 <= size1 <= size2 <= the tree's size.
        """
        if not 0 <= size1 <= size2:
            raise MerkleError(f"no consistency proof from size {size1} to size {size2}")
        if size2 == 0:
            return []
        ranges = _consistency_ranges(size1, size2) if 0 < size1 < size2 else []
        return self._subtree_hashes(conn, ranges, size2)

    def _subtree_hashes(
        self, conn: Connection, ranges: Sequence[tuple[int, int]], size: int
    ) -> list[bytes]:
        """MTH of each leaf range [a, b), all in one SELECT; leaf ``size - 1`` is read too,
        so that a size beyond the tree fails even when no range needs it."""
        pieces = [_complete_subtrees(a, b) for a, b in ranges]
        wanted = {node for piece in pieces for node in piece}
        wanted.add((0, size - 1))
        found = self._read(conn, wanted)
        if missing := wanted - found.keys():
            raise MerkleError(
                f"the tree has fewer than {size} leaves, or lost nodes: no node {min(missing)}"
            )
        return [_fold([found[node] for node in piece], self.th) for piece in pieces]

    def _read(self, conn: Connection, nodes: Iterable[Node]) -> dict[Node, bytes]:
        wanted = list(nodes)
        if not wanted:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, idx in sorted(wanted):
            by_level.setdefault(level, []).append(idx)
        params: dict[str, object] = {}
        for term, (level, idxs) in enumerate(by_level.items()):
            params[f"level{term}"], params[f"idx{term}"] = level, idxs
        query = self._read_query(len(by_level))
        return {(row.level, row.idx): bytes(row.hash) for row in conn.execute(query, params)}

    def _read_query(self, terms: int) -> Select[int, int, bytes]:
        """The SELECT of the nodes at ``terms`` levels: ``level = :levelN AND idx IN
        :idxN`` for each, OR-ed, so each is a primary-key look-up (a row-value ``IN
        (VALUES …)`` would scan the table on SQLite). Built once per number of levels."""
        if (query := self._queries.get(terms)) is None:
            c = self.table.c
            where = or_(
                *(
                    and_(
                        c.level == bindparam(f"level{t}"),
                        c.idx.in_(bindparam(f"idx{t}", expanding=True)),
                    )
                    for t in range(terms)
                )
            )
            query = self._queries[terms] = select(c.level, c.idx, c.hash).where(where)
        return query


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(hashes: Iterable[bytes]) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise MerkleError(f"a hash of {len(h)} bytes, not {HASH_SIZE}")


def _complete_subtrees(a: int, b: int) -> list[Node]:
    """The fewest complete subtrees that cover leaves [a, b), left to right.

    For the ranges the RFC's recursions visit (``a`` a multiple of a power of two at least
    ``b - a``) these are the binary decomposition of ``b - a``, largest first, and folding
    their hashes right to left gives MTH(D[a:b]).
    """
    nodes: list[Node] = []
    while a < b:
        level = (b - a).bit_length() - 1
        if a:
            level = min(level, (a & -a).bit_length() - 1)
        nodes.append((level, a >> level))
        a += 1 << level
    return nodes


def _fold(hashes: Sequence[bytes], th: TreeHash) -> bytes:
    """The hashes of a range's complete subtrees combined right to left."""
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = th.node(h, result)
    return result


def _inclusion_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PATH(m, D[n]), in the order of the proof."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, n
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if m < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    return ranges[::-1]


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for
    0 < m < n, in the order of the proof."""
    ranges: list[tuple[int, int]] = []
    lo, hi, whole = 0, n, True
    while m < hi:
        mid = lo + _split(hi - lo)
        if m <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo, whole = mid, False
    if not whole:
        ranges.append((lo, hi))
    return ranges[::-1]
