// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

/// @title ITradeToken
/// @notice What the tool calls on a settlement token: ERC-20 with its metadata (EIP-20), EIP-2612 permits and the
/// ERC-5267 domain they are signed under. Declares nothing of its own: it exists so the compiled ABI of these
/// standard interfaces ships with the package, and off-chain code never talks to a real token through a mock's ABI.
/// @dev A token may implement only part of it (no permit, no ERC-5267): callers check before relying on those.
interface ITradeToken is IERC20Metadata, IERC20Permit, IERC5267 {}
