"""Merkle trees of event hashes, laid out as OpenZeppelin's StandardMerkleTree with leaf encoding ``["bytes32"]``.

- leaf: ``keccak256(keccak256(abi.encode(eventHash)))``; ``abi.encode`` of one bytes32 is the 32 bytes themselves.
- node: ``keccak256(sorted(a, b))``, the commutative pair hash of OpenZeppelin's ``MerkleProof``.
- layout: leaves sorted by hash, stored at the end of one array (``tree[len - 1 - i]``), parents of node ``i`` at
  ``(i - 1) // 2``; ``tree[0]`` is the root. A proof lists the siblings from the leaf up.

So ``TraceRegistry`` verifies a proof with ``MerkleProof.verifyCalldata(proof, root, leaf)``, and ``dump()`` loads
in ``StandardMerkleTree.load`` of ``@openzeppelin/merkle-tree``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trace_api.domain import hx
from trace_api.errors import NotFoundError, ValidationError

__all__ = [
    "MerkleTree",
    "MultiProof",
    "hash_pair",
    "keccak256",
    "leaf_hash",
    "process_proof",
    "verify",
    "verify_multiproof",
]


def _keccak_backend() -> Callable[[bytes], bytes]:
    try:  # safe-pysha3 (a C extension, installed with eth-brownie) is about 7 times faster than pycryptodome
        from sha3 import keccak_256  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return lambda data: keccak_256(data).digest()  # type: ignore[no-any-return,unused-ignore]
    except ImportError:
        from eth_hash.auto import keccak

        return keccak


keccak256: Callable[[bytes], bytes] = _keccak_backend()


def _bytes32(value: bytes, what: str = "event hash") -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ValidationError(f"{what} must be 32 bytes, got {value!r}")
    return bytes(value)


def leaf_hash(event_hash: bytes) -> bytes:
    """The leaf of one event hash: ``keccak256(keccak256(abi.encode(bytes32)))``."""
    return keccak256(keccak256(_bytes32(event_hash)))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """``keccak256`` of the two nodes in ascending order (OpenZeppelin ``Hashes.commutativeKeccak256``)."""
    return keccak256(a + b if a < b else b + a)


def process_proof(leaf: bytes, proof: Iterable[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (OpenZeppelin ``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify(root: bytes, leaf_value: bytes, proof: Sequence[bytes]) -> bool:
    """True when ``proof`` proves that the event hash ``leaf_value`` is in the tree of ``root``."""
    return process_proof(leaf_hash(leaf_value), proof) == root


@dataclass(frozen=True)
class MultiProof:
    """Arguments of OpenZeppelin ``MerkleProof.multiProofVerify``: leaves (hashed), proof and flags."""

    leaves: list[bytes]
    proof: list[bytes]
    proof_flags: list[bool]


def verify_multiproof(root: bytes, multiproof: MultiProof) -> bool:
    """OpenZeppelin ``MerkleProof.processMultiProof``: each flag says whether the next pair takes its second node
    from the queue of computed nodes (True) or from the proof (False)."""
    leaves, proof, flags = multiproof.leaves, multiproof.proof, multiproof.proof_flags
    if len(leaves) + len(proof) != len(flags) + 1:
        return False
    queue = list(leaves)
    computed: list[bytes] = []
    leaf_at = hash_at = proof_at = 0

    def take() -> bytes:
        nonlocal leaf_at, hash_at
        if leaf_at < len(leaves):
            leaf_at += 1
            return queue[leaf_at - 1]
        hash_at += 1
        return computed[hash_at - 1]

    try:
        for flag in flags:
            a = take()
            if flag:
                b = take()
            else:
                b = proof[proof_at]
                proof_at += 1
            computed.append(hash_pair(a, b))
    except IndexError:  # a node read before it was computed, or the proof ran out: not a valid multiproof
        return False
    if flags:
        if proof_at != len(proof):
            return False
        return computed[-1] == root
    return (leaves[0] if leaves else proof[0]) == root


class MerkleTree:
    """A StandardMerkleTree of event hashes (``bytes32``). Build with :meth:`from_event_hashes`."""

    __slots__ = ("_index", "_positions", "_tree", "_values")

    def __init__(self, tree: list[bytes], values: list[bytes], positions: list[int]) -> None:
        self._tree = tree
        self._values = values  # event hashes, in the order given
        self._positions = positions  # tree index of each value
        self._index: dict[bytes, int] | None = None  # event hash -> first position, built on the first lookup

    @classmethod
    def from_event_hashes(cls, event_hashes: Sequence[bytes], *, sort_leaves: bool = True) -> MerkleTree:
        """Build the tree; ``sort_leaves=False`` keeps the given order (StandardMerkleTree's option)."""
        values = [_bytes32(h) for h in event_hashes]
        return cls.from_leaf_hashes([keccak256(keccak256(v)) for v in values], values, sort_leaves=sort_leaves)

    @classmethod
    def from_leaf_hashes(
        cls, leaves: Sequence[bytes], values: Sequence[bytes] | None = None, *, sort_leaves: bool = True
    ) -> MerkleTree:
        """Build from leaves already hashed, e.g. leaves of another StandardMerkleTree encoding."""
        if not leaves:
            raise ValidationError("a Merkle tree needs at least one leaf")
        order = sorted(range(len(leaves)), key=leaves.__getitem__) if sort_leaves else list(range(len(leaves)))
        size = 2 * len(leaves) - 1
        tree: list[bytes] = [b""] * size
        positions = [0] * len(leaves)
        for rank, index in enumerate(order):
            positions[index] = size - 1 - rank
            tree[size - 1 - rank] = _bytes32(leaves[index], "leaf")
        for i in range(size - len(leaves) - 1, -1, -1):
            a, b = tree[2 * i + 1], tree[2 * i + 2]
            tree[i] = keccak256(a + b if a < b else b + a)
        return cls(tree, list(values) if values is not None else list(leaves), positions)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def root(self) -> bytes:
        return self._tree[0]

    @property
    def event_hashes(self) -> list[bytes]:
        return list(self._values)

    def leaf(self, index: int) -> bytes:
        """The leaf of the ``index``-th event hash (in the order given)."""
        return self._tree[self._positions[index]]

    def index_of(self, event_hash: bytes) -> int:
        """Position of ``event_hash`` in the order given (its first occurrence)."""
        if self._index is None:
            self._index = {}
            for i, value in enumerate(self._values):
                self._index.setdefault(value, i)
        found = self._index.get(bytes(event_hash))
        if found is None:
            raise NotFoundError(f"event hash {hx(event_hash)} is not in this tree")
        return found

    def proof_at(self, index: int) -> list[bytes]:
        """The proof of the ``index``-th event hash (in the order given): siblings from the leaf up."""
        if not 0 <= index < len(self._values):
            raise NotFoundError(f"leaf index {index} out of range 0..{len(self._values) - 1}")
        tree, node, proof = self._tree, self._positions[index], []
        while node > 0:
            proof.append(tree[node + 1 if node % 2 else node - 1])
            node = (node - 1) // 2
        return proof

    def proof(self, event_hash: bytes) -> list[bytes]:
        """The proof of ``event_hash`` (its first occurrence)."""
        return self.proof_at(self.index_of(event_hash))

    def proofs(self) -> list[list[bytes]]:
        """Every proof, in the order the event hashes were given."""
        return [self.proof_at(i) for i in range(len(self._values))]

    def multiproof(self, event_hashes: Sequence[bytes]) -> MultiProof:
        """One proof for several event hashes (OpenZeppelin ``getMultiProof``)."""
        nodes = sorted({self._positions[self.index_of(h)] for h in event_hashes}, reverse=True)
        if len(nodes) != len(event_hashes):
            raise ValidationError("multiproof: the event hashes must be distinct")
        tree, stack, proof, flags = self._tree, list(nodes), [], []
        while stack and stack[0] > 0:
            node = stack.pop(0)
            sibling = node + 1 if node % 2 else node - 1
            if stack and stack[0] == sibling:
                flags.append(True)
                stack.pop(0)
            else:
                flags.append(False)
                proof.append(tree[sibling])
            stack.append((node - 1) // 2)
        if not nodes:
            proof.append(tree[0])
        return MultiProof([tree[n] for n in nodes], proof, flags)

    def dump(self) -> dict[str, Any]:
        """The ``standard-v1`` JSON of ``@openzeppelin/merkle-tree`` (``StandardMerkleTree.load`` reads it)."""
        return {
            "format": "standard-v1",
            "leafEncoding": ["bytes32"],
            "tree": [hx(node) for node in self._tree],
            "values": [{"value": [hx(v)], "treeIndex": p} for v, p in zip(self._values, self._positions, strict=True)],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> MerkleTree:
        """Read :meth:`dump` output; the nodes are recomputed from the values and must match."""
        if data.get("format") != "standard-v1" or data.get("leafEncoding") != ["bytes32"]:
            raise ValidationError("not a standard-v1 Merkle tree dump with leaf encoding ['bytes32']")
        values = [bytes.fromhex(str(entry["value"][0]).removeprefix("0x")) for entry in data["values"]]
        positions = [int(entry["treeIndex"]) for entry in data["values"]]
        by_rank = sorted(range(len(values)), key=lambda i: -positions[i])
        rebuilt = cls.from_event_hashes([values[i] for i in by_rank], sort_leaves=False)
        if rebuilt.dump()["tree"] != list(data["tree"]):
            raise ValidationError("Merkle tree dump is inconsistent: its nodes do not match its values")
        return cls(rebuilt._tree, values, positions)
