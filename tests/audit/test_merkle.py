"""The Merkle tree of RFC 9162 §2.1: published test vectors of a project we did not write,
property tests against the RFC's recursive definitions, the stored tree on both backends,
and the node reads a proof costs."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, event, select

from hub.audit.merkle import (
    EMPTY_ROOT,
    MerkleError,
    MerkleTree,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)
from hub.store import Store
from hub.store.tables import audit_tree

# --- Published test vectors -------------------------------------------------------------
# Re-typed from transparency-dev/merkle (https://github.com/transparency-dev/merkle),
# Apache-2.0, Google LLC: the `leaves`, `roots`, `inclusionProofs` and `consistencyProofs`
# of proof/verify_test.go (commit 02194e9afb6c1d95b5381350007963aa70fff472), the 8-leaf
# tree that google/certificate-transparency's merkle tests also use; and the hasher
# vectors of rfc6962/rfc6962_test.go (commit 78493b07ef9b552e3379abf9e23d4da26fbe797c).
# Their inclusion vectors number leaves from 1; here the index is 0-based.

VECTOR_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

VECTOR_ROOTS = [  # the root of the first 1, 2, …, 8 leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

VECTOR_INCLUSION = [  # (index, size, path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

VECTOR_CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def unhex(hashes: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def vector_root(size: int) -> bytes:
    return bytes.fromhex(VECTOR_ROOTS[size - 1])


def test_hashes_are_the_published_ones() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_the_published_tree(size: int) -> None:
    assert root(VECTOR_LEAVES[:size]) == vector_root(size)


def inclusion_probes(
    index: int, size: int, proof: list[bytes], root_hash: bytes, leaf: bytes
) -> Iterator[tuple[str, bytes, int, int, list[bytes], bytes]]:
    """Corruptions of a good inclusion proof, each of which must fail (the kinds the
    vectors' project probes with, re-stated)."""
    other = bytes.fromhex("abacaba0" + "00" * 28)
    yield "index - 1", leaf, index - 1, size, proof, root_hash
    yield "index + 1", leaf, index + 1, size, proof, root_hash
    yield "index ^ 2", leaf, index ^ 2, size, proof, root_hash
    yield "size * 2", leaf, index, size * 2, proof, root_hash
    yield "size // 2", leaf, index, size // 2, proof, root_hash
    yield "wrong leaf", leaf_hash(b"WrongLeaf"), index, size, proof, root_hash
    yield "empty root", leaf, index, size, proof, EMPTY_ROOT
    yield "other root", leaf, index, size, proof, other
    yield "trailing root", leaf, index, size, [*proof, root_hash], root_hash
    yield "preceding root", leaf, index, size, [root_hash, *proof], root_hash
    yield "trailing garbage", leaf, index, size, [*proof, b""], root_hash
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        yield f"proof[{i}] bit 3", leaf, index, size, flipped, root_hash
    if proof:
        yield "removed component", leaf, index, size, proof[:-1], root_hash
    if len(proof) > 1:
        yield "inserted component", leaf, index, size, [proof[0], other, *proof[1:]], root_hash


@pytest.mark.parametrize(("index", "size", "path"), VECTOR_INCLUSION)
def test_published_inclusion_proofs_verify_and_corruptions_do_not(
    index: int, size: int, path: list[str]
) -> None:
    proof, leaf, root_hash = unhex(path), leaf_hash(VECTOR_LEAVES[index]), vector_root(size)
    assert root_from_inclusion(leaf, index, size, proof) == root_hash
    assert verify_inclusion(leaf, index, size, proof, root_hash)
    accepted = [
        name
        for name, *probe in inclusion_probes(index, size, proof, root_hash, leaf)
        if verify_inclusion(*probe)
    ]
    assert accepted == []


@pytest.mark.parametrize(("size1", "size2", "path"), VECTOR_CONSISTENCY)
def test_published_consistency_proofs_verify_and_corruptions_do_not(
    size1: int, size2: int, path: list[str]
) -> None:
    proof, root1, root2 = unhex(path), vector_root(size1), vector_root(size2)
    assert verify_consistency(size1, size2, root1, root2, proof)
    if not proof:
        return
    probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 // 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, [*proof, b""]),
        ("trailing root1", size1, size2, root1, root2, [*proof, root1]),
        ("trailing root2", size1, size2, root1, root2, [*proof, root2]),
        ("preceding root1", size1, size2, root1, root2, [root1, *proof]),
        ("preceding root2", size1, size2, root1, root2, [root2, *proof]),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0], *proof]),
        ("truncated", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
        probes.append((f"proof[{i}] bit 4", size1, size2, root1, root2, flipped))
    assert [name for name, *probe in probes if verify_consistency(*probe)] == []


def test_the_verifiers_edge_cases() -> None:
    some = leaf_hash(b"x")
    assert verify_inclusion(some, 0, 1, [], some)
    assert not verify_inclusion(some, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 2)]:
        assert not verify_inclusion(some, index, size, [], some)
        with pytest.raises(MerkleError):
            root_from_inclusion(some, index, size, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, some, [])
    assert not verify_consistency(0, 5, some, some, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, some, [some])
    assert verify_consistency(3, 3, some, some, [])
    assert not verify_consistency(3, 3, some, EMPTY_ROOT, [])
    assert not verify_consistency(3, 3, some, some, [some])
    assert not verify_consistency(2, 1, some, some, [])
    assert not verify_consistency(-1, 1, some, some, [])


# --- The stored tree ----------------------------------------------------------------------


def test_the_stored_tree_gives_the_published_roots_and_proofs(store: Store) -> None:
    tree = MerkleTree()
    with store.engine.begin() as conn:
        tree.extend(conn, [leaf_hash(e) for e in VECTOR_LEAVES[:3]], 0)
        for index in range(3, 8):
            tree.append(conn, leaf_hash(VECTOR_LEAVES[index]), index)
    with store.engine.connect() as conn:
        assert tree.size(conn) == 8
        assert [tree.root(conn, n) for n in range(1, 9)] == unhex(VECTOR_ROOTS)
        for index, size, path in VECTOR_INCLUSION:
            assert tree.inclusion_proof(conn, index, size) == unhex(path)
        for size1, size2, path in VECTOR_CONSISTENCY:
            assert tree.consistency_proof(conn, size1, size2) == unhex(path)


def test_the_stored_tree_refuses_what_it_cannot_answer(store: Store) -> None:
    tree = MerkleTree()
    with store.engine.begin() as conn:
        assert tree.size(conn) == 0
        assert tree.root(conn, 0) == EMPTY_ROOT
        assert tree.consistency_proof(conn, 0, 0) == []
        with pytest.raises(MerkleError, match="fewer than 2 leaves"):
            tree.append(conn, leaf_hash(b"a"), 2)
        tree.extend(conn, [leaf_hash(bytes([i])) for i in range(5)], 0)
        with pytest.raises(MerkleError, match="already in the tree"):
            tree.append(conn, leaf_hash(b"a"), 3)
        with pytest.raises(MerkleError, match="fewer than 7 leaves"):
            tree.append(conn, leaf_hash(b"a"), 7)
        with pytest.raises(MerkleError, match="not 32"):
            tree.append(conn, b"short", 5)
        for call in (
            lambda: tree.root(conn, 6),
            lambda: tree.root(conn, -1),
            lambda: tree.inclusion_proof(conn, 0, 6),
            lambda: tree.inclusion_proof(conn, 5, 5),
            lambda: tree.consistency_proof(conn, 2, 6),
            lambda: tree.consistency_proof(conn, 5, 6),
            lambda: tree.consistency_proof(conn, 4, 3),
        ):
            with pytest.raises(MerkleError):
                call()
        assert tree.size(conn) == 5


# --- Properties against the RFC's recursive definitions ---------------------------------


def mth(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, §2.1.1."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1."""
    if len(hashes) == 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return [*path(m, hashes[:k]), mth(hashes[k:])]
    return [*path(m - k, hashes[k:]), mth(hashes[:k])]


def subproof(m: int, hashes: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), §2.1.4.1; PROOF(m, D[n]) is SUBPROOF(m, D[n], true)."""
    n = len(hashes)
    if m == n:
        return [] if whole else [mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, hashes[:k], whole), mth(hashes[k:])]
    return [*subproof(m - k, hashes[k:], False), mth(hashes[:k])]


LEAVES = 300
HASHES = [leaf_hash(f"entry {i}".encode()) for i in range(LEAVES)]
ROOTS = [EMPTY_ROOT, *(mth(HASHES[:n]) for n in range(1, LEAVES + 1))]


def altered(proof: list[bytes], data: st.DataObject) -> list[bytes]:
    """The proof with one byte of one hash changed."""
    i = data.draw(st.integers(0, len(proof) - 1))
    at = data.draw(st.integers(0, 31))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(proof[i])
    bad[at] ^= flip
    return [*proof[:i], bytes(bad), *proof[i + 1 :]]


def other_than(x: int, lo: int, hi: int, data: st.DataObject) -> int:
    """A number in [lo, hi] other than ``x`` (which is in that range; hi > lo)."""
    value = data.draw(st.integers(lo, hi - 1))
    return value + (value >= x)


def test_stored_proofs_are_the_rfcs_and_verify(store: Store) -> None:
    tree = MerkleTree()
    with store.engine.begin() as conn:
        tree.extend(conn, HASHES, 0)

    @settings(max_examples=150, deadline=None, database=None)
    @given(data=st.data())
    def check(conn: Connection, data: st.DataObject) -> None:
        size = data.draw(st.integers(1, LEAVES), label="size")
        index = data.draw(st.integers(0, size - 1), label="index")
        assert tree.root(conn, size) == ROOTS[size]

        proof = tree.inclusion_proof(conn, index, size)
        assert proof == path(index, HASHES[:size])
        assert verify_inclusion(HASHES[index], index, size, proof, ROOTS[size])
        if proof:
            assert not verify_inclusion(
                HASHES[index], index, size, altered(proof, data), ROOTS[size]
            )
        if size > 1:
            wrong = other_than(index, 0, size - 1, data)
            assert not verify_inclusion(HASHES[index], wrong, size, proof, ROOTS[size])
        if index + 1 < LEAVES:
            other = other_than(size, index + 1, LEAVES, data)
            assert not verify_inclusion(HASHES[index], index, other, proof, ROOTS[other])

        size1 = data.draw(st.integers(1, size), label="size1")
        proof = tree.consistency_proof(conn, size1, size)
        assert proof == subproof(size1, HASHES[:size], True)
        assert verify_consistency(size1, size, ROOTS[size1], ROOTS[size], proof)
        if not proof:
            return
        bad = altered(proof, data)
        assert not verify_consistency(size1, size, ROOTS[size1], ROOTS[size], bad)
        if size > 2:
            wrong1 = other_than(size1, 1, size - 1, data)
            assert not verify_consistency(wrong1, size, ROOTS[wrong1], ROOTS[size], proof)
        if size1 + 1 < LEAVES:
            wrong2 = other_than(size, size1 + 1, LEAVES, data)
            assert not verify_consistency(size1, wrong2, ROOTS[size1], ROOTS[wrong2], proof)

    with store.engine.connect() as conn:
        check(conn)


@settings(max_examples=40, deadline=None, database=None)
@given(chunks=st.lists(st.integers(1, 40), min_size=1, max_size=7))
def test_appends_in_any_batches_store_the_same_tree(chunks: list[int]) -> None:
    engine = create_engine("sqlite://")
    audit_tree.create(engine)
    tree = MerkleTree()
    total = sum(chunks)
    with engine.begin() as conn:
        start = 0
        for chunk in chunks:
            if chunk == 1:
                tree.append(conn, HASHES[start], start)
            else:
                tree.extend(conn, HASHES[start : start + chunk], start)
            start += chunk
        stored = {(r.level, r.idx): r.hash for r in conn.execute(select(audit_tree))}
        assert tree.size(conn) == total
    expected = {
        (level, i): mth(HASHES[i << level : (i + 1) << level])
        for level in range(total.bit_length())
        for i in range(total >> level)
    }
    assert stored == expected
    engine.dispose()


# --- Node reads per proof -----------------------------------------------------------------

BIG = 100_000


@pytest.fixture
def big_tree(store: Store) -> Store:
    tree = MerkleTree()
    with store.engine.begin() as conn:
        for start in range(0, BIG, 10_000):
            tree.extend(conn, [leaf_hash(b"%d" % i) for i in range(start, start + 10_000)], start)
    return store


def scans_the_table(conn: Connection, sql: str, params: Any) -> bool:
    """Whether the plan of a statement, as the driver ran it, reads the whole tree table."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
        return any(str(row[-1]).startswith("SCAN audit_tree") for row in rows)
    rows = conn.exec_driver_sql("EXPLAIN " + sql, params).all()
    return any("Seq Scan" in str(row[0]) for row in rows)


def test_a_proof_at_100k_leaves_is_one_select_of_o_log_n_nodes(big_tree: Store) -> None:
    """One SELECT per root or proof, naming at most 2·log2(N) + 1 nodes, each found by
    its primary key (the plan has no scan of the table: "Seq Scan" on PostgreSQL)."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, *rest: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    tree = MerkleTree()
    bound = 2 * math.ceil(math.log2(BIG)) + 1
    with big_tree.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", record)
        calls = [
            lambda: tree.root(conn, BIG),
            lambda: tree.root(conn, 77_777),
            lambda: tree.inclusion_proof(conn, 0, BIG),
            lambda: tree.inclusion_proof(conn, 65_535, BIG),
            lambda: tree.inclusion_proof(conn, 99_999, BIG),
            lambda: tree.inclusion_proof(conn, 12_345, 54_321),
            lambda: tree.consistency_proof(conn, 1, BIG),
            lambda: tree.consistency_proof(conn, 65_536, BIG),
            lambda: tree.consistency_proof(conn, 54_321, 99_999),
            lambda: tree.consistency_proof(conn, 99_998, BIG),
        ]
        for call in calls:
            statements.clear()
            result = call()
            assert len(statements) == 1
            (_, params), *_ = statements
            nodes = len(params) // 2  # (level, idx) pairs; each names at most one row
            assert nodes <= bound
            assert len(result if isinstance(result, list) else [result]) <= bound
            assert not scans_the_table(conn, *statements[0])
        statements.clear()
        assert tree.size(conn) == BIG
        assert len(statements) == 1
        proof = tree.inclusion_proof(conn, 4242, BIG)
        assert verify_inclusion(leaf_hash(b"4242"), 4242, BIG, proof, tree.root(conn, BIG))
        proof = tree.consistency_proof(conn, 54_321, BIG)
        roots = tree.root(conn, 54_321), tree.root(conn, BIG)
        assert verify_consistency(54_321, BIG, *roots, proof)
