// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MockTraceRegistry
/// @notice Test double for the five {ITraceRegistry} views that {TradeEscrow} reads, with setters.
/// @dev Not an ITraceRegistry: it implements only `exists`, `shippedTo`, `deliveredTo`, `receivedBy` and `isRecalled`.
contract MockTraceRegistry {
    mapping(bytes32 id => bool) private _exists;
    mapping(bytes32 id => bool) private _recalled;
    mapping(bytes32 id => mapping(address seller => mapping(address buyer => uint64))) private _shippedTo;
    mapping(bytes32 id => mapping(address buyer => uint64)) private _deliveredTo;
    mapping(bytes32 id => mapping(address buyer => uint64)) private _receivedBy;

    /// @notice Marks batch `id` as registered or not.
    function setExists(bytes32 id, bool value) external {
        _exists[id] = value;
    }

    /// @notice Sets when `seller` first shipped batch `id` to `buyer`; 0 clears it.
    function setShipped(bytes32 id, address seller, address buyer, uint64 timestamp) external {
        _shippedTo[id][seller][buyer] = timestamp;
    }

    /// @notice Sets when batch `id` was first delivered to `buyer`; 0 clears it.
    function setDelivered(bytes32 id, address buyer, uint64 timestamp) external {
        _deliveredTo[id][buyer] = timestamp;
    }

    /// @notice Sets when `buyer` itself first recorded Receiving of batch `id` (also a delivery); 0 clears it.
    function setReceived(bytes32 id, address buyer, uint64 timestamp) external {
        _receivedBy[id][buyer] = timestamp;
        if (timestamp != 0 && _deliveredTo[id][buyer] == 0) _deliveredTo[id][buyer] = timestamp;
    }

    /// @notice Marks batch `id` as recalled or not.
    function setRecalled(bytes32 id, bool value) external {
        _recalled[id] = value;
    }

    /// @notice Same meaning as {ITraceRegistry-exists}.
    function exists(bytes32 id) external view returns (bool) {
        return _exists[id];
    }

    /// @notice Same meaning as {ITraceRegistry-shippedTo}.
    function shippedTo(bytes32 id, address shipper, address consignee) external view returns (uint64) {
        return _shippedTo[id][shipper][consignee];
    }

    /// @notice Same meaning as {ITraceRegistry-deliveredTo}.
    function deliveredTo(bytes32 id, address account) external view returns (uint64) {
        return _deliveredTo[id][account];
    }

    /// @notice Same meaning as {ITraceRegistry-receivedBy}.
    function receivedBy(bytes32 id, address account) external view returns (uint64) {
        return _receivedBy[id][account];
    }

    /// @notice Same meaning as {ITraceRegistry-isRecalled}.
    function isRecalled(bytes32 id) external view returns (bool) {
        return _recalled[id];
    }
}
