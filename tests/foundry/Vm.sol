// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Vm
/// @notice The few Foundry cheatcodes the invariant suite uses, declared here so that the suite needs no library
/// checkout (forge-std is not on npm in a usable version, and nothing is fetched at run time).
interface Vm {
    function warp(uint256 timestamp) external;

    function prank(address sender) external;

    function deal(address account, uint256 newBalance) external;
}

/// @dev The cheatcode contract's fixed address: address(bytes20(uint160(uint256(keccak256("hevm cheat code"))))).
Vm constant VM = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
