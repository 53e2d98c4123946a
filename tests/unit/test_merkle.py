"""Merkle trees of event hashes against OpenZeppelin's StandardMerkleTree vectors and independent implementations."""

from __future__ import annotations

import hashlib
import time

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from eth_abi import encode

from trace_api.errors import NotFoundError, ValidationError
from trace_api.merkle import MerkleTree, MultiProof, hash_pair, leaf_hash, verify, verify_multiproof


def _keccak(data: bytes) -> bytes:
    """An independent keccak256 (pycryptodome directly, whatever backend trace_api.merkle picked)."""
    return pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def _event_hashes(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"event {salt}{i}".encode()).digest() for i in range(n)]


def _solidity_verify(proof: list[bytes], root: bytes, leaf: bytes) -> bool:
    """MerkleProof.verify as written in OpenZeppelin Contracts 5, step by step."""
    computed = leaf
    for node in proof:
        computed = _keccak(computed + node) if computed < node else _keccak(node + computed)
    return computed == root


def _naive_root(sorted_leaves: list[bytes]) -> bytes:
    """StandardMerkleTree's array layout, recursively: node i has children 2i+1 and 2i+2, leaves at the end reversed."""
    n = len(sorted_leaves)

    def node(i: int) -> bytes:
        if i >= n - 1:
            return sorted_leaves[(2 * n - 2) - i]
        a, b = node(2 * i + 1), node(2 * i + 2)
        return _keccak(min(a, b) + max(a, b))

    return node(0)


def _pairwise_root(sorted_leaves: list[bytes]) -> bytes:
    """Level by level pairing; equals the StandardMerkleTree root when the leaf count is a power of two."""
    level = list(sorted_leaves)
    while len(level) > 1:
        level = [_keccak(min(a, b) + max(a, b)) for a, b in zip(level[0::2], level[1::2], strict=True)]
    return level[0]


# --- OpenZeppelin @openzeppelin/merkle-tree vectors -----------------------------------------------------------------

OZ_LEAVES = [_keccak(_keccak(encode(["string"], [c]))) for c in "abcdef"]


def test_openzeppelin_string_tree_sorted() -> None:
    tree = MerkleTree.from_leaf_hashes(OZ_LEAVES)
    assert "0x" + tree.root.hex() == "0x6deb52b5da8fd108f79fab00341f38d2587896634c646ee52e49f845680a70c8"
    assert tree.dump()["tree"] == [
        "0x6deb52b5da8fd108f79fab00341f38d2587896634c646ee52e49f845680a70c8",
        "0x52426e0f1f65ff7e209a13b8c29cffe82e3acaf3dad0a9b9088f3b9a61a929c3",
        "0xfd3cf45654e88d1cc5d663578c82c76f4b5e3826bacaa1216441443504538f51",
        "0x8076923e76cf01a7c048400a2304c9a9c23bbbdac3a98ea3946340fdafbba34f",
        "0x965b92c6cf08303cc4feb7f3e0819c436c2cec17c6f0688a6af139c9a368707c",
        "0xeba909cf4bb90c6922771d7f126ad0fd11dfde93f3937a196274e1ac20fd2f5b",
        "0xc62a8cfa41edc0ef6f6ae27a2985b7d39c7fea770787d7e104696c6e81f64848",
        "0x9cf5a63718145ba968a01c1d557020181c5b252f665cf7386d370eddb176517b",
        "0x9c15a6a0eaeed500fd9eed4cbeab71f797cefcc67bfd46683e4d2e6ff7f06d1c",
        "0x9a4f64e953595df82d1b4f570d34c4f4f0cfaf729a61e9d60e83e579e1aa283e",
        "0x19ba6c6333e0e9a15bf67523e0676e2f23eb8e574092552d5e888c64a4bb3681",
    ]


def test_openzeppelin_string_tree_unsorted() -> None:
    tree = MerkleTree.from_leaf_hashes(OZ_LEAVES, sort_leaves=False)
    assert tree.root.hex() == "23be0977360f08bb0bd7f709a7d543d2cd779c79c66d74e0441919871647de2b"
    assert tree.dump()["tree"][1] == "0x8f7234e8cfe39c08ca84a3a3e3274f574af26fd15165fe29e09cbab742daccd9"


def test_leaf_encoding_is_double_keccak_of_abi_encoded_bytes32() -> None:
    event_hash = bytes.fromhex("a13cbe6c8bb6df3710b3edaeff760a1365ec8fd69ca1f4d7e0c10eb5189a883a")
    assert encode(["bytes32"], [event_hash]) == event_hash
    assert leaf_hash(event_hash) == _keccak(_keccak(encode(["bytes32"], [event_hash])))
    assert leaf_hash(event_hash).hex() == _keccak(_keccak(event_hash)).hex()
    assert (
        hash_pair(b"\x02" * 32, b"\x01" * 32)
        == _keccak(b"\x01" * 32 + b"\x02" * 32)
        == hash_pair(b"\x01" * 32, b"\x02" * 32)
    )


def test_known_root_of_event_hashes() -> None:
    tree = MerkleTree.from_event_hashes([bytes([i]) * 32 for i in range(1, 4)])
    leaves = sorted(_keccak(_keccak(bytes([i]) * 32)) for i in range(1, 4))
    assert tree.root == _naive_root(leaves)
    # three leaves: tree = [root, H(L0, L1), L2, L1, L0] with L0 < L1 < L2
    pair = _keccak(leaves[0] + leaves[1])
    assert tree.root == _keccak(min(pair, leaves[2]) + max(pair, leaves[2]))
    assert tree.proof(bytes([1]) * 32) == tree.proof_at(0)
    assert tree.root.hex() == "d0721d2dc79379fabc8f9fedaf82df1f99c98be5da4b6affa7ff9a42314b4e1c"


# --- independent implementations --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_root_and_every_proof_match_independent_implementations(n: int) -> None:
    hashes = _event_hashes(n)
    tree = MerkleTree.from_event_hashes(hashes)
    leaves = sorted(_keccak(_keccak(h)) for h in hashes)
    assert tree.root == _naive_root(leaves)
    if n & (n - 1) == 0:
        assert tree.root == _pairwise_root(leaves)
    for index, event_hash in enumerate(hashes):
        proof = tree.proof(event_hash)
        assert proof == tree.proof_at(index)
        assert _solidity_verify(proof, tree.root, _keccak(_keccak(event_hash)))
        assert verify(tree.root, event_hash, proof)
    assert tree.proofs() == [tree.proof_at(i) for i in range(n)]


def test_single_leaf_tree() -> None:
    event_hash = _event_hashes(1)[0]
    tree = MerkleTree.from_event_hashes([event_hash])
    assert tree.root == leaf_hash(event_hash)
    assert tree.proof(event_hash) == []


def test_wrong_proofs_fail() -> None:
    hashes = _event_hashes(10)
    tree = MerkleTree.from_event_hashes(hashes)
    other = MerkleTree.from_event_hashes(_event_hashes(10, "other"))
    proof = tree.proof(hashes[3])
    assert not verify(tree.root, hashes[4], proof)
    assert not verify(other.root, hashes[3], proof)
    assert not verify(tree.root, hashes[3], proof[:-1])
    assert not verify(tree.root, hashes[3], [bytes(32), *proof[1:]])
    assert not _solidity_verify(proof, tree.root, hashes[3])  # the raw event hash is not the leaf


@pytest.mark.parametrize(
    "picked", [[0], [0, 1], [0, 1, 5], [1, 3, 4, 5], [0, 2, 4, 5], [0, 1, 2, 3, 4, 5], [4, 1, 5, 0, 2]]
)
def test_multiproofs(picked: list[int]) -> None:
    hashes = _event_hashes(6)
    tree = MerkleTree.from_event_hashes(hashes)
    multi = tree.multiproof([hashes[i] for i in picked])
    assert sorted(multi.leaves) == sorted(leaf_hash(hashes[i]) for i in picked)
    assert len(multi.leaves) + len(multi.proof) == len(multi.proof_flags) + 1
    assert verify_multiproof(tree.root, multi)
    other = MerkleTree.from_event_hashes(_event_hashes(6, "other"))
    assert not verify_multiproof(other.root, multi)
    assert not verify_multiproof(tree.root, MultiProof(multi.leaves, [*multi.proof, bytes(32)], multi.proof_flags))


def test_dump_is_standard_v1_and_loads() -> None:
    hashes = _event_hashes(5)
    tree = MerkleTree.from_event_hashes(hashes)
    dump = tree.dump()
    assert dump["format"] == "standard-v1" and dump["leafEncoding"] == ["bytes32"]
    assert dump["values"][0] == {
        "value": ["0x" + hashes[0].hex()],
        "treeIndex": dump["tree"].index("0x" + leaf_hash(hashes[0]).hex()),
    }
    loaded = MerkleTree.load(dump)
    assert loaded.root == tree.root and loaded.event_hashes == hashes
    assert all(loaded.proof(h) == tree.proof(h) for h in hashes)
    dump["tree"][1] = "0x" + "00" * 32
    with pytest.raises(ValidationError, match="inconsistent"):
        MerkleTree.load(dump)


def test_bad_input() -> None:
    with pytest.raises(ValidationError, match="at least one leaf"):
        MerkleTree.from_event_hashes([])
    with pytest.raises(ValidationError, match="must be 32 bytes"):
        MerkleTree.from_event_hashes([b"\x01" * 31])
    tree = MerkleTree.from_event_hashes(_event_hashes(3))
    with pytest.raises(NotFoundError, match="is not in this tree"):
        tree.proof(bytes(32))
    with pytest.raises(NotFoundError, match="out of range"):
        tree.proof_at(3)


def test_ten_thousand_leaves_and_all_proofs_under_a_second() -> None:
    hashes = _event_hashes(10_000)
    start = time.process_time()
    tree = MerkleTree.from_event_hashes(hashes)
    proofs = tree.proofs()
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"{elapsed:.3f} s"
    assert len(proofs[0]) in (13, 14)
    assert all(_solidity_verify(proofs[i], tree.root, _keccak(_keccak(hashes[i]))) for i in range(0, 10_000, 97))
