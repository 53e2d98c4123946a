// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IOrgDirectory} from "./interfaces/IOrgDirectory.sol";

/// @title OrgDirectory
/// @notice Names for accounts, vouched for by the trace registry's admins. See {IOrgDirectory}.
contract OrgDirectory is IOrgDirectory {
    /// @dev One slot per account: the hash, then `updatedAt` and `version` packed together in a second slot.
    struct Entry {
        bytes32 profileHash;
        uint64 updatedAt;
        uint32 version;
    }

    bytes32 private constant _ADMIN_ROLE = 0x00; // AccessControl's DEFAULT_ADMIN_ROLE

    IAccessControl private immutable _REGISTRY;
    mapping(address account => Entry) private _entries;

    constructor(address registry_) {
        _REGISTRY = IAccessControl(registry_);
    }

    modifier onlyRegistryAdmin() {
        _checkRegistryAdmin();
        _;
    }

    /// @inheritdoc IOrgDirectory
    function setOrganisation(address account, bytes32 profileHash) external onlyRegistryAdmin {
        if (account == address(0)) revert OrgInvalidAccount(account);
        if (profileHash == bytes32(0)) revert OrgInvalidProfile();
        Entry storage entry = _entries[account];
        uint32 version = entry.version + 1;
        entry.profileHash = profileHash;
        entry.updatedAt = uint64(block.timestamp);
        entry.version = version;
        emit OrganisationSet(account, profileHash, version, msg.sender);
    }

    /// @inheritdoc IOrgDirectory
    function revokeOrganisation(address account) external onlyRegistryAdmin {
        Entry storage entry = _entries[account];
        bytes32 profileHash = entry.profileHash;
        if (profileHash == bytes32(0)) revert OrgUnknownAccount(account);
        // The version stays, so a later profile of the same account continues the count.
        entry.profileHash = bytes32(0);
        entry.updatedAt = uint64(block.timestamp);
        emit OrganisationRevoked(account, profileHash, msg.sender);
    }

    /// @inheritdoc IOrgDirectory
    function organisationOf(address account)
        external
        view
        returns (bytes32 profileHash, uint64 updatedAt, uint32 version)
    {
        Entry storage entry = _entries[account];
        return (entry.profileHash, entry.updatedAt, entry.version);
    }

    /// @inheritdoc IOrgDirectory
    function registry() external view returns (address) {
        return address(_REGISTRY);
    }

    function _checkRegistryAdmin() private view {
        if (!_REGISTRY.hasRole(_ADMIN_ROLE, msg.sender)) revert OrgUnauthorizedAccount(msg.sender);
    }
}
