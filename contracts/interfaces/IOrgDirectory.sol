// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOrgDirectory
/// @notice Who an account is: the registry admin vouches that an account belongs to an organisation by recording
/// the SHA-256 of the organisation's profile (legal name, GLNs, country, website, logo), published off chain.
/// Anyone holding the profile can check it against this hash; every change is an event.
/// @dev The admins are the `DEFAULT_ADMIN_ROLE` holders of the trace registry given at construction, so one set of
/// people vouches for both roles and names.
interface IOrgDirectory {
    /// @notice `account` is not an admin of the trace registry.
    error OrgUnauthorizedAccount(address account);
    /// @notice The zero address cannot belong to an organisation.
    error OrgInvalidAccount(address account);
    /// @notice A profile hash must not be zero.
    error OrgInvalidProfile();
    /// @notice `account` has no organisation profile to revoke.
    error OrgUnknownAccount(address account);

    /// @notice `account` now belongs to the organisation whose profile hashes to `profileHash` (its `version`-th
    /// profile: 1 for the first, then one more for each change).
    event OrganisationSet(address indexed account, bytes32 indexed profileHash, uint32 version, address indexed admin);
    /// @notice The admin withdrew its word for `account`'s profile `profileHash`.
    event OrganisationRevoked(address indexed account, bytes32 indexed profileHash, address indexed admin);

    /// @notice Link `account` to the profile that hashes to `profileHash` (SHA-256), replacing any earlier one.
    /// @dev Requirements: the caller is a registry admin; `account` is not zero; `profileHash` is not zero.
    /// Emits an {OrganisationSet} event.
    function setOrganisation(address account, bytes32 profileHash) external;

    /// @notice Withdraw the link of `account` to its organisation.
    /// @dev Requirements: the caller is a registry admin; `account` has a profile. Emits an {OrganisationRevoked} event.
    function revokeOrganisation(address account) external;

    /// @notice The profile hash of `account`, when it was set and its version; all zero for an unknown account.
    function organisationOf(address account)
        external
        view
        returns (bytes32 profileHash, uint64 updatedAt, uint32 version);

    /// @notice The trace registry whose admins vouch for organisations.
    function registry() external view returns (address);
}
