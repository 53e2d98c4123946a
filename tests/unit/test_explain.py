"""Every custom error of the contracts has a message for people, and the message names things, not hashes."""

from __future__ import annotations

import pytest

from trace_api.chain.compiler import compile_contracts
from trace_api.errors import ContractRevert
from trace_api.services.explain import MESSAGES, Describer, error_inputs, explain, placeholders, role_names

CONTRACTS = ("TraceRegistry", "TradeEscrow", "OrgDirectory")


@pytest.fixture(scope="module")
def inputs() -> dict[str, list[dict]]:
    artifacts = compile_contracts()
    return error_inputs(artifacts[name].abi for name in CONTRACTS)


def _sample(param: dict) -> object:
    kind = param["type"]
    if kind == "address":
        return "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    if kind.startswith("bytes"):
        return "0x" + "ab" * 32
    return 1796088686 if kind.startswith("uint64") else 3


def test_every_error_of_both_contracts_has_a_message(inputs: dict[str, list[dict]]) -> None:
    missing = sorted(set(inputs) - set(MESSAGES))
    assert not missing, f"custom errors without a message: {missing}"


def test_no_message_for_an_error_that_does_not_exist(inputs: dict[str, list[dict]]) -> None:
    assert sorted(set(MESSAGES) - set(inputs)) == []


def test_placeholders_are_the_errors_own_parameters(inputs: dict[str, list[dict]]) -> None:
    for name, params in inputs.items():
        extra = placeholders(MESSAGES[name]) - {p["name"] for p in params}
        assert not extra, f"{name}: placeholders {extra} are not parameters"


def test_each_message_renders_without_raw_identifiers(inputs: dict[str, list[dict]]) -> None:
    describer = Describer(
        batch=lambda _id: "batch 09506000134352/L1",
        account=lambda _address: "processor",
        amount=lambda _token, value: f"{value / 1e6:g} USDC",
        enums={
            "Step": ("commissioning", "inspecting", "packing", "shipping"),
            "State": ("none", "open", "disputed", "closed"),
        },
        roles={"0x" + "ab" * 32: "carrier"},
    )
    for name, params in inputs.items():
        text = explain(ContractRevert(name, tuple(_sample(p) for p in params)), inputs=inputs, describer=describer)
        assert name not in text and "0xababab" not in text, text
        assert (text[0].isupper() or text[0].isdigit()) and text.rstrip().endswith((".", ")")), text


def test_arguments_become_names_dates_and_steps(inputs: dict[str, list[dict]]) -> None:
    describer = Describer(
        batch=lambda _id: "batch 09506000134352/L1",
        account=lambda address: "seller" if address.endswith("c8") else None,
        enums={"Step": ("commissioning", "inspecting", "packing", "shipping")},
    )
    text = explain(
        ContractRevert("TraceUnauthorizedStep", ("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", 3)),
        inputs=inputs,
        describer=describer,
    )
    assert text.startswith("Seller (0x7099…79c8) may not record shipping")
    text = explain(
        ContractRevert("EscrowDeliveryDeadlineNotPassed", (3, 1796088686)), inputs=inputs, describer=describer
    )
    assert "2026-12-01 01:31 UTC" in text and text.startswith("Trade 3 ")


def test_unknown_error_keeps_its_raw_form(inputs: dict[str, list[dict]]) -> None:
    exc = ContractRevert("SomethingNew", (1,))
    assert explain(exc, inputs=inputs, describer=Describer()) == "SomethingNew(1)"


def test_roles_are_named_from_the_abi(inputs: dict[str, list[dict]]) -> None:
    from eth_utils import keccak

    roles = role_names(compile_contracts()[name].abi for name in CONTRACTS)
    carrier = "0x" + keccak(text="CARRIER_ROLE").hex()
    text = explain(
        ContractRevert("AccessControlUnauthorizedAccount", ("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", carrier)),
        inputs=inputs,
        describer=Describer(roles=roles),
    )
    assert "lacks the carrier role" in text
