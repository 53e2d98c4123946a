"""OrgDirectory: the registry's admins vouch for organisation profiles; everyone else is refused by error name."""

from __future__ import annotations

from typing import Any

import brownie
import pytest
from web3 import Web3

ADMIN_ROLE = "0x" + "00" * 32
PROFILE = Web3.keccak(text="Rotterdam Roasters BV")
PROFILE_2 = Web3.keccak(text="Rotterdam Roasters BV, new website")
ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module")
def orgs(OrgDirectory: Any, registry: Any, admin: Any) -> Any:
    return OrgDirectory.deploy(registry.address, {"from": admin})


def test_admin_sets_a_profile_and_its_versions(orgs: Any, registry: Any, admin: Any, processor: Any) -> None:
    assert orgs.registry() == registry.address
    assert tuple(orgs.organisationOf(processor)) == ("0x" + "00" * 32, 0, 0)
    tx = orgs.setOrganisation(processor, PROFILE, {"from": admin})
    event = tx.events["OrganisationSet"]
    assert (event["account"], event["version"], event["admin"]) == (processor, 1, admin)
    assert event["profileHash"] == "0x" + PROFILE.hex().removeprefix("0x")
    profile, updated_at, version = orgs.organisationOf(processor)
    assert profile == "0x" + PROFILE.hex().removeprefix("0x") and version == 1
    assert updated_at == brownie.chain[tx.block_number].timestamp
    orgs.setOrganisation(processor, PROFILE_2, {"from": admin})
    assert orgs.organisationOf(processor)[2] == 2


def test_revoke_keeps_the_version_count(orgs: Any, admin: Any, carrier: Any) -> None:
    orgs.setOrganisation(carrier, PROFILE, {"from": admin})
    tx = orgs.revokeOrganisation(carrier, {"from": admin})
    assert tx.events["OrganisationRevoked"]["account"] == carrier
    profile, _, version = orgs.organisationOf(carrier)
    assert profile == "0x" + "00" * 32 and version == 1
    assert orgs.setOrganisation(carrier, PROFILE_2, {"from": admin}).events["OrganisationSet"]["version"] == 2


def test_only_registry_admins_vouch(orgs: Any, registry: Any, admin: Any, producer: Any, stranger: Any) -> None:
    for caller in (producer, stranger):  # a role holder is not an admin
        with brownie.reverts(f"OrgUnauthorizedAccount: {caller.address.lower()}"):
            orgs.setOrganisation(producer, PROFILE, {"from": caller})
    orgs.setOrganisation(producer, PROFILE, {"from": admin})
    with brownie.reverts(f"OrgUnauthorizedAccount: {stranger.address.lower()}"):
        orgs.revokeOrganisation(producer, {"from": stranger})
    # Admins are whoever the registry says: a new registry admin may vouch at once, a former one no longer.
    registry.grantRole(ADMIN_ROLE, stranger, {"from": admin})
    orgs.setOrganisation(stranger, PROFILE, {"from": stranger})
    registry.revokeRole(ADMIN_ROLE, stranger, {"from": admin})
    with brownie.reverts(f"OrgUnauthorizedAccount: {stranger.address.lower()}"):
        orgs.setOrganisation(stranger, PROFILE_2, {"from": stranger})


def test_bad_input_is_refused_by_name(orgs: Any, admin: Any, retailer: Any) -> None:
    with brownie.reverts(f"OrgInvalidAccount: {ZERO}"):
        orgs.setOrganisation(ZERO, PROFILE, {"from": admin})
    with brownie.reverts("OrgInvalidProfile: "):
        orgs.setOrganisation(retailer, b"\0" * 32, {"from": admin})
    with brownie.reverts(f"OrgUnknownAccount: {retailer.address.lower()}"):
        orgs.revokeOrganisation(retailer, {"from": admin})
