// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITraceRegistry} from "../interfaces/ITraceRegistry.sol";

/// @title MockTraceRegistry
/// @notice Test double for the three {ITraceRegistry} views that {TradeEscrow} reads, with setters.
/// @dev Not an ITraceRegistry: it implements only `exists`, `latestShipment` and `isRecalled`. The setters write
/// the latest shipment per (batch, consignee) directly, so a test can put any history behind a trade.
contract MockTraceRegistry {
    mapping(bytes32 id => bool) private _exists;
    mapping(bytes32 id => bool) private _recalled;
    mapping(bytes32 id => mapping(address consignee => ITraceRegistry.Shipment)) private _shipments;

    /// @notice Marks batch `id` as registered or not.
    function setExists(bytes32 id, bool value) external {
        _exists[id] = value;
    }

    /// @notice A new shipment of batch `id` by `shipper` to `consignee`, in transit; it replaces the latest one.
    /// The time is not kept: an escrow reads only delivery times.
    function setShipped(bytes32 id, address shipper, address consignee, uint64) external {
        _shipments[id][consignee] = ITraceRegistry.Shipment({
            shipper: shipper, deliveredAt: 0, handedOnAt: 0, received: false, inTransit: true
        });
    }

    /// @notice The latest shipment to `consignee` was delivered at `timestamp` by a carrier (its Arriving).
    function setDelivered(bytes32 id, address consignee, uint64 timestamp) external {
        ITraceRegistry.Shipment storage s = _shipments[id][consignee];
        (s.deliveredAt, s.received, s.inTransit) = (uint40(timestamp), false, false);
    }

    /// @notice The latest shipment to `consignee` was delivered at `timestamp` by its own Receiving.
    function setReceived(bytes32 id, address consignee, uint64 timestamp) external {
        ITraceRegistry.Shipment storage s = _shipments[id][consignee];
        (s.deliveredAt, s.received, s.inTransit) = (uint40(timestamp), true, false);
    }

    /// @notice `consignee` shipped batch `id` on at `timestamp`, after the latest shipment to it was delivered.
    function setHandedOn(bytes32 id, address consignee, uint64 timestamp) external {
        _shipments[id][consignee].handedOnAt = uint40(timestamp);
    }

    /// @notice Marks batch `id` as recalled or not.
    function setRecalled(bytes32 id, bool value) external {
        _recalled[id] = value;
    }

    /// @notice Same meaning as {ITraceRegistry-exists}.
    function exists(bytes32 id) external view returns (bool) {
        return _exists[id];
    }

    /// @notice Same meaning as {ITraceRegistry-latestShipment}.
    function latestShipment(bytes32 id, address consignee)
        external
        view
        returns (ITraceRegistry.Shipment memory shipment, bool recalled)
    {
        return (_shipments[id][consignee], _recalled[id]);
    }

    /// @notice Same meaning as {ITraceRegistry-isRecalled}.
    function isRecalled(bytes32 id) external view returns (bool) {
        return _recalled[id];
    }
}
