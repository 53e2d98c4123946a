"""Facts the contracts state in their source, read from solc's AST so that off-chain code never copies them by hand:
enums (members in on-chain order), ``constant`` state variables with their values, and struct members with their
Solidity types (a storage struct's ``uint96`` is the bound an amount must fit).

Constants are evaluated here as solc folds them: number literals with units (``30 days``, ``1 ether``), hex and
scientific literals, arithmetic, shifts and bit operations, parentheses, type conversions, ``type(uintN).max``,
references to other constants and ``keccak256`` of a string literal. A constant whose value needs anything else
(a call, an immutable) is left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from eth_utils.crypto import keccak

__all__ = ["solidity_facts"]

_UNITS = {
    "wei": 1,
    "gwei": 10**9,
    "ether": 10**18,
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86_400,
    "weeks": 604_800,
}
_BINARY: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: int(Decimal(a) / Decimal(b)),  # Solidity's integer division truncates towards zero
    "%": lambda a, b: a % b if a >= 0 else -(-a % b),
    "**": lambda a, b: a**b,
    "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b,
    "|": lambda a, b: a | b,
    "&": lambda a, b: a & b,
    "^": lambda a, b: a ^ b,
}


class _NotConstant(Exception):
    """The expression needs more than solc's constant folding."""


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _int_type_bounds(type_name: str) -> tuple[int, int]:
    if type_name.startswith("uint"):
        bits = int(type_name[4:] or 256)
        return 0, 2**bits - 1
    if type_name.startswith("int"):
        bits = int(type_name[3:] or 256)
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    raise _NotConstant(type_name)


class _Evaluator:
    def __init__(self, declarations: dict[int, dict[str, Any]], enum_sizes: dict[int, int]) -> None:
        self.declarations = declarations  # AST id -> constant VariableDeclaration
        self.enum_sizes = enum_sizes  # AST id -> number of members
        self.busy: set[int] = set()

    def value(self, node: dict[str, Any]) -> int | bytes:
        kind = node.get("nodeType")
        if kind == "Literal":
            return self._literal(node)
        if kind == "TupleExpression" and len(node.get("components") or []) == 1:
            return self.value(node["components"][0])
        if kind == "UnaryOperation" and node["operator"] in ("-", "~"):
            operand = self._int(node["subExpression"])
            return -operand if node["operator"] == "-" else ~operand
        if kind == "BinaryOperation" and node["operator"] in _BINARY:
            return _BINARY[node["operator"]](self._int(node["leftExpression"]), self._int(node["rightExpression"]))
        if kind == "Identifier":
            target = self.declarations.get(node.get("referencedDeclaration", -1))
            if target is None or target["id"] in self.busy:
                raise _NotConstant(node.get("name"))
            self.busy.add(target["id"])
            try:
                return self.value(target["value"])
            finally:
                self.busy.discard(target["id"])
        if kind == "MemberAccess" and node["memberName"] in ("max", "min"):
            inner = node["expression"]
            if inner.get("nodeType") == "FunctionCall" and inner["expression"].get("name") == "type":
                low, high = self._bounds(inner["arguments"][0])
                return high if node["memberName"] == "max" else low
        if kind == "FunctionCall":
            return self._call(node)
        raise _NotConstant(kind)

    def _bounds(self, argument: dict[str, Any]) -> tuple[int, int]:
        """``type(X)``'s min and max: an integer type's, or an enum's first and last member."""
        if argument.get("nodeType") == "ElementaryTypeNameExpression":
            name = argument["typeName"]["name"] if isinstance(argument["typeName"], dict) else argument["typeName"]
            return _int_type_bounds(str(name))
        size = self.enum_sizes.get(argument.get("referencedDeclaration", -1))
        if size is None:
            raise _NotConstant("type()")
        return 0, size - 1

    def _int(self, node: dict[str, Any]) -> int:
        value = self.value(node)
        return int.from_bytes(value, "big") if isinstance(value, bytes) else value

    def _literal(self, node: dict[str, Any]) -> int | bytes:
        if node["kind"] == "bool":
            return int(node["value"] == "true")
        if node["kind"] != "number":
            raise _NotConstant(node["kind"])
        text = node["value"].replace("_", "")
        number = int(text, 16) if text.lower().startswith("0x") else Decimal(text)
        scaled = Decimal(number) * _UNITS.get(node.get("subdenomination") or "wei", 1)
        if scaled != scaled.to_integral_value():
            raise _NotConstant(text)
        return int(scaled)

    def _call(self, node: dict[str, Any]) -> int | bytes:
        callee = node["expression"]
        if node.get("kind") == "typeConversion" and len(node["arguments"]) == 1:
            return self.value(node["arguments"][0])
        if callee.get("nodeType") == "Identifier" and callee.get("name") == "keccak256" and len(node["arguments"]) == 1:
            argument = node["arguments"][0]
            if argument.get("nodeType") == "Literal" and argument["kind"] == "string":
                return keccak(text=argument["value"])
        raise _NotConstant("call")


def _shown(value: int | bytes, type_string: str) -> int | str:
    """An integer stays one; fixed bytes (``bytes32``) are 0x hex of their full width."""
    if type_string.startswith("bytes") and type_string[5:].isdigit():
        width = int(type_string[5:])
        data = value if isinstance(value, bytes) else int(value).to_bytes(width, "big")
        return "0x" + data.rjust(width, b"\0").hex()
    return int.from_bytes(value, "big") if isinstance(value, bytes) else value


def solidity_facts(output: dict[str, Any], folder: str) -> dict[str, Any]:
    """From solc's standard-json ``output``, for the sources under ``folder/``: ``enums`` (by canonical name),
    ``constants`` (by contract, then name) and ``structs`` (by canonical name, member -> Solidity type)."""
    nodes = [node for source, data in output.get("sources", {}).items() for node in _walk(data.get("ast"))]
    ours = [
        node
        for source, data in output.get("sources", {}).items()
        if source.startswith(f"{folder}/")
        for node in _walk(data.get("ast"))
    ]
    declarations = {
        node["id"]: node
        for node in nodes
        if node.get("nodeType") == "VariableDeclaration" and node.get("constant") and node.get("value")
    }
    enum_sizes = {node["id"]: len(node["members"]) for node in nodes if node.get("nodeType") == "EnumDefinition"}
    evaluator = _Evaluator(declarations, enum_sizes)
    enums: dict[str, list[str]] = {}
    structs: dict[str, dict[str, str]] = {}
    constants: dict[str, dict[str, int | str]] = {}
    for node in ours:
        if node.get("nodeType") == "EnumDefinition":
            enums[node["canonicalName"]] = [member["name"] for member in node["members"]]
        elif node.get("nodeType") == "StructDefinition":
            structs[node["canonicalName"]] = {m["name"]: m["typeDescriptions"]["typeString"] for m in node["members"]}
        elif node.get("nodeType") == "ContractDefinition":
            found: dict[str, int | str] = {}
            for part in node.get("nodes", []):
                if part.get("nodeType") != "VariableDeclaration" or not part.get("constant") or not part.get("value"):
                    continue
                try:
                    found[part["name"]] = _shown(evaluator.value(part["value"]), part["typeDescriptions"]["typeString"])
                except (_NotConstant, KeyError, ValueError):  # not one solc folds, or a shape not handled here
                    continue
            if found:
                constants[node["name"]] = dict(sorted(found.items()))
    return {
        "enums": dict(sorted(enums.items())),
        "constants": dict(sorted(constants.items())),
        "structs": dict(sorted(structs.items())),
    }
