// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ITraceRegistry} from "./interfaces/ITraceRegistry.sol";

/// @dev Slot 0 of a batch, packed by hand (as Uniswap v4 packs `Slot0`) so that an event reads it once and writes
/// it once; Solidity's struct fields would cost one warm SLOAD per field read.
///
/// | bits    | field         |
/// | 0-159   | custodian     | nonzero exactly when the batch exists
/// | 160-191 | eventCount    |
/// | 192-231 | deliveredAt   | the latest shipment's delivery; 0 before the first one and while in transit
/// | 232-239 | ancestorCount | <= TraceRegistry.MAX_ANCESTORS
/// | 240     | recalled      | the batch itself, not its ancestors
/// | 241     | inTransit     |
/// | 242     | received      | the latest delivery was recorded by its consignee (its Receiving)
type BatchState is uint256;

using BatchStateLibrary for BatchState global;

library BatchStateLibrary {
    uint256 private constant _ADDRESS_MASK = type(uint160).max;
    uint256 private constant _COUNT_SHIFT = 160;
    uint256 private constant _DELIVERED_SHIFT = 192;
    uint256 private constant _ANCESTORS_SHIFT = 232;
    uint256 private constant _RECALLED_BIT = 1 << 240;
    uint256 private constant _IN_TRANSIT_BIT = 1 << 241;
    uint256 private constant _RECEIVED_BIT = 1 << 242;
    uint256 private constant _DELIVERY_MASK = (uint256(type(uint40).max) << _DELIVERED_SHIFT) | _RECEIVED_BIT;

    function create(address holder, uint8 ancestors) internal pure returns (BatchState) {
        return BatchState.wrap(uint256(uint160(holder)) | (uint256(ancestors) << _ANCESTORS_SHIFT));
    }

    function custodian(BatchState s) internal pure returns (address) {
        return address(uint160(BatchState.unwrap(s)));
    }

    function eventCount(BatchState s) internal pure returns (uint32) {
        return uint32(BatchState.unwrap(s) >> _COUNT_SHIFT);
    }

    function deliveredAt(BatchState s) internal pure returns (uint40) {
        return uint40(BatchState.unwrap(s) >> _DELIVERED_SHIFT);
    }

    function ancestorCount(BatchState s) internal pure returns (uint8) {
        return uint8(BatchState.unwrap(s) >> _ANCESTORS_SHIFT);
    }

    function recalled(BatchState s) internal pure returns (bool) {
        return BatchState.unwrap(s) & _RECALLED_BIT != 0;
    }

    /// @dev Nonzero if the batch is recalled itself or has ancestors that might be: zero lets an event skip the
    /// lineage walk with one test.
    function recallBits(BatchState s) internal pure returns (uint256) {
        return BatchState.unwrap(s) & (_RECALLED_BIT | (uint256(type(uint8).max) << _ANCESTORS_SHIFT));
    }

    function inTransit(BatchState s) internal pure returns (bool) {
        return BatchState.unwrap(s) & _IN_TRANSIT_BIT != 0;
    }

    function received(BatchState s) internal pure returns (bool) {
        return BatchState.unwrap(s) & _RECEIVED_BIT != 0;
    }

    /// @dev Adds one to the event count and returns the new count. 2**32 events on one batch would cost over
    /// 10**14 gas, so the count never carries into `deliveredAt`.
    function withNextEvent(BatchState s) internal pure returns (BatchState next, uint32 count) {
        unchecked {
            uint256 x = BatchState.unwrap(s) + (1 << _COUNT_SHIFT);
            return (BatchState.wrap(x), uint32(x >> _COUNT_SHIFT));
        }
    }

    function withRecalled(BatchState s) internal pure returns (BatchState) {
        return BatchState.wrap(BatchState.unwrap(s) | _RECALLED_BIT);
    }

    /// @dev In transit, with the previous delivery's time and receipt cleared.
    function shipped(BatchState s) internal pure returns (BatchState) {
        return BatchState.wrap((BatchState.unwrap(s) & ~_DELIVERY_MASK) | _IN_TRANSIT_BIT);
    }

    /// @dev Delivered to `holder` at `time`: custody moves, the transit ends.
    function delivered(BatchState s, address holder, uint40 time, bool byConsignee)
        internal
        pure
        returns (BatchState)
    {
        uint256 x = BatchState.unwrap(s) & ~(_ADDRESS_MASK | _IN_TRANSIT_BIT | _DELIVERY_MASK);
        x |= uint256(uint160(holder)) | (uint256(time) << _DELIVERED_SHIFT);
        return BatchState.wrap(byConsignee ? x | _RECEIVED_BIT : x);
    }
}

/// @dev Slot 2 of a batch: its latest shipment, written at registration so that no shipment writes a zero slot.
///
/// | bits    | field        |
/// | 0-159   | party        | shipper XOR consignee of the latest shipment; 0 before the first one
/// | 160-199 | shippedAt    | 0 before the first shipment
/// | 200-239 | registeredAt |
///
/// One of the two parties is always the custodian (the shipper until delivery, the consignee after it), so the
/// XOR gives the other one back and a delivery, which moves custody, need not rewrite this slot.
type ShipmentSlot is uint256;

using ShipmentSlotLibrary for ShipmentSlot global;

library ShipmentSlotLibrary {
    uint256 private constant _SHIPPED_SHIFT = 160;
    uint256 private constant _REGISTERED_SHIFT = 200;
    uint256 private constant _REGISTERED_MASK = uint256(type(uint40).max) << _REGISTERED_SHIFT;

    function create(uint40 registered) internal pure returns (ShipmentSlot) {
        return ShipmentSlot.wrap(uint256(registered) << _REGISTERED_SHIFT);
    }

    /// @dev The party that is not `holder` (the custodian).
    function other(ShipmentSlot x, address holder) internal pure returns (address) {
        return address(uint160(ShipmentSlot.unwrap(x)) ^ uint160(holder));
    }

    function shippedAt(ShipmentSlot x) internal pure returns (uint40) {
        return uint40(ShipmentSlot.unwrap(x) >> _SHIPPED_SHIFT);
    }

    function registeredAt(ShipmentSlot x) internal pure returns (uint40) {
        return uint40(ShipmentSlot.unwrap(x) >> _REGISTERED_SHIFT);
    }

    function shipping(ShipmentSlot x, address shipper, address consignee, uint40 time)
        internal
        pure
        returns (ShipmentSlot)
    {
        return ShipmentSlot.wrap(
            (ShipmentSlot.unwrap(x) & _REGISTERED_MASK) | uint256(uint160(shipper) ^ uint160(consignee))
                | (uint256(time) << _SHIPPED_SHIFT)
        );
    }
}

/// @dev A shipment whose consignee has shipped the batch on, kept per (batch, consignee) for escrows.
///
/// | bits    | field       |
/// | 0-159   | shipper     |
/// | 160-199 | deliveredAt |
/// | 200-239 | handedOnAt  |
/// | 240     | received    |
library HandedOnLibrary {
    function pack(address shipper, uint40 deliveredAt, uint40 handedOnAt, bool received)
        internal
        pure
        returns (uint256)
    {
        return uint256(uint160(shipper)) | (uint256(deliveredAt) << 160) | (uint256(handedOnAt) << 200)
            | (received ? 1 << 240 : 0);
    }

    function unpack(uint256 x) internal pure returns (ITraceRegistry.Shipment memory r) {
        r.shipper = address(uint160(x));
        r.deliveredAt = uint40(x >> 160);
        r.handedOnAt = uint40(x >> 200);
        r.received = x & (1 << 240) != 0;
    }
}

/// @title TraceRegistry
/// @notice Custody, hash-chained lifecycle events, lineage and recalls of GS1 batches, plus Merkle roots of
/// events kept off-chain.
/// @dev Gas layout: a plain event reads and writes two batch slots (the packed {BatchState} and `head`) and reads
/// the caller's role word, so it costs three cold slots, two dirty writes and one log. Roles are mirrored into a
/// per-account bit mask (`_roleBits`) by the `_grantRole`/`_revokeRole` overrides, so "holds any of these roles"
/// is one SLOAD instead of one per role.
contract TraceRegistry is ITraceRegistry, AccessControl {
    bytes32 public constant PRODUCER_ROLE = keccak256("PRODUCER_ROLE");
    bytes32 public constant PROCESSOR_ROLE = keccak256("PROCESSOR_ROLE");
    bytes32 public constant CARRIER_ROLE = keccak256("CARRIER_ROLE");
    bytes32 public constant INSPECTOR_ROLE = keccak256("INSPECTOR_ROLE");
    bytes32 public constant RETAILER_ROLE = keccak256("RETAILER_ROLE");

    /// @notice Most parents a derived batch may have.
    uint256 public constant MAX_PARENTS = 16;

    /// @notice Most ancestor visits a lineage may need. A batch's ancestor count is the sum over its parents of
    /// (1 + the parent's ancestor count), i.e. the number of paths from it to an ancestor; that is exactly the
    /// number of batches the depth-first walk of {isRecalled} visits, so capping the count caps the walk (and the
    /// extra gas that every event on a derived batch pays for the transitive recall check).
    uint256 public constant MAX_ANCESTORS = 64;

    uint256 private constant _ADMIN = 1 << 0;
    uint256 private constant _PRODUCER = 1 << 1;
    uint256 private constant _PROCESSOR = 1 << 2;
    uint256 private constant _CARRIER = 1 << 3;
    uint256 private constant _INSPECTOR = 1 << 4;
    uint256 private constant _RETAILER = 1 << 5;
    uint256 private constant _HANDLERS = _PRODUCER | _PROCESSOR | _CARRIER | _RETAILER;
    uint256 private constant _SHIPPERS = _PRODUCER | _PROCESSOR | _RETAILER;
    uint256 private constant _OPERATORS = _HANDLERS | _INSPECTOR;

    /// @dev A pseudo-role every caller holds, for the step that needs no role (Receiving).
    uint256 private constant _ANYONE = 1 << 6;
    /// @dev Flags of a step rule, above the role bits.
    uint256 private constant _CUSTODY = 1 << 8; // only the custodian may record the step
    uint256 private constant _MOVES = 1 << 9; // the step ships, delivers or needs the batch in transit
    uint256 private constant _LAST_STEP = uint256(type(Step).max);

    /// @dev One 16-bit rule per step, at bit `16 * uint8(step)`: the roles allowed to record it (any one of them)
    /// and the flags above. Bits of later steps are left in place when a rule is shifted down, as no test reads
    /// them. A table rather than branches keeps a plain event to three bit tests; immutable rather than constant
    /// because solc re-evaluates a constant expression at every use.
    uint256 private immutable _RULES = _rule(Step.Commissioning, _PRODUCER | _CUSTODY)
        | _rule(Step.Inspecting, _INSPECTOR) | _rule(Step.Packing, _HANDLERS | _CUSTODY)
        | _rule(Step.Shipping, _SHIPPERS | _CUSTODY | _MOVES) | _rule(Step.Receiving, _ANYONE | _MOVES)
        | _rule(Step.Transforming, _PROCESSOR | _CUSTODY) | _rule(Step.Storing, _HANDLERS | _CUSTODY)
        | _rule(Step.RetailSelling, _RETAILER | _CUSTODY) | _rule(Step.Arriving, _CARRIER | _MOVES)
        | _rule(Step.Departing, _CARRIER | _MOVES) | _rule(Step.SensorReporting, _OPERATORS)
        | _rule(Step.Holding, _HANDLERS | _CUSTODY) | _rule(Step.Destroying, _HANDLERS | _CUSTODY);

    struct Batch {
        // slot 0: read once and written once by every event
        BatchState state;
        // slot 1: written by every event; starts at the id so that no event writes a zero slot
        bytes32 head;
        // slot 2: read by shipping and delivery, written by shipping; nonzero from registration
        ShipmentSlot shipment;
        // slots 3-5: written once, at registration
        address producer;
        bytes8 uom;
        uint128 quantity;
        bytes32 metadataHash;
    }

    struct Root {
        uint64 anchoredAt;
        uint32 count;
    }

    mapping(bytes32 id => Batch) private _batches;
    mapping(bytes32 id => bytes32[]) private _parents;
    /// @dev Shipments whose consignee shipped the batch on (see {HandedOnLibrary}); the current one is in `_batches`.
    mapping(bytes32 id => mapping(address consignee => uint256)) private _handedOn;
    mapping(address anchorer => mapping(bytes32 root => Root)) private _roots;
    mapping(address account => uint256) private _roleBits;

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---- writes ----

    /// @inheritdoc ITraceRegistry
    function registerBatch(bytes32 id, bytes32 metadataHash, uint128 quantity, bytes8 uom)
        external
        onlyRole(PRODUCER_ROLE)
    {
        _create(id, 0, metadataHash, quantity, uom);
        emit BatchRegistered(id, msg.sender, metadataHash, quantity, uom);
    }

    /// @inheritdoc ITraceRegistry
    function deriveBatch(
        bytes32 newId,
        bytes32[] calldata parentIds,
        bytes32 metadataHash,
        uint128 quantity,
        bytes8 uom
    ) external {
        if (_roleBits[msg.sender] & (_PRODUCER | _PROCESSOR) == 0) {
            revert AccessControlUnauthorizedAccount(msg.sender, PROCESSOR_ROLE);
        }
        uint256 n = parentIds.length;
        if (n == 0 || n > MAX_PARENTS) revert TraceInvalidParents(n);
        uint256 ancestors;
        for (uint256 i; i < n; ++i) {
            bytes32 pid = parentIds[i];
            for (uint256 j; j < i; ++j) {
                if (parentIds[j] == pid) revert TraceInvalidParents(n);
            }
            BatchState p = _batches[pid].state;
            address holder = p.custodian();
            if (holder == address(0)) revert TraceUnknownBatch(pid);
            if (holder != msg.sender) revert TraceNotCustodian(pid, msg.sender, holder);
            if (p.inTransit()) revert TraceAlreadyInTransit(pid);
            ancestors += 1 + p.ancestorCount();
        }
        if (ancestors > MAX_ANCESTORS) revert TraceLineageTooLarge(ancestors, MAX_ANCESTORS);
        // Walk the parents' lineages only once their total size is known to be bounded.
        for (uint256 i; i < n; ++i) {
            if (_isRecalled(parentIds[i])) revert TraceBatchRecalled(parentIds[i]);
        }
        _create(newId, ancestors, metadataHash, quantity, uom);
        _parents[newId] = parentIds;
        emit BatchDerived(newId, msg.sender, parentIds, metadataHash, quantity, uom);
    }

    /// @inheritdoc ITraceRegistry
    function recordEvent(bytes32 id, Step step, bytes32 eventHash, uint64 location, address to)
        external
        returns (uint32 seq)
    {
        location; // committed by eventHash; neither stored nor logged
        return _record(id, uint256(step), eventHash, uint256(uint160(to)), _roleBits[msg.sender] | _ANYONE);
    }

    /// @inheritdoc ITraceRegistry
    function recordEvents(EventInput[] calldata events) external {
        uint256 n = events.length;
        if (n == 0) revert TraceEmptyEvents();
        uint256 roles = _roleBits[msg.sender] | _ANYONE; // one read for the whole call
        // Raw words, without the decoder's per-field calls: the decoder has checked that the array lies within
        // calldata (so `end` cannot overflow), and _record validates `step` and `to` before using them.
        uint256 e;
        uint256 end;
        assembly ("memory-safe") {
            e := events.offset
            end := add(e, mul(n, 0xa0))
        }
        for (; e < end; ) {
            bytes32 id;
            uint256 step;
            bytes32 eventHash;
            uint256 to;
            assembly ("memory-safe") {
                id := calldataload(e)
                step := calldataload(add(e, 0x20))
                eventHash := calldataload(add(e, 0x40))
                to := calldataload(add(e, 0x80))
            }
            _record(id, step, eventHash, to, roles);
            // e < end, which lies within calldata
            unchecked {
                e += 0xa0;
            }
        }
    }

    /// @inheritdoc ITraceRegistry
    function recall(bytes32 id, bytes32 reasonHash) external {
        Batch storage b = _batches[id];
        BatchState s = b.state;
        if (s.custodian() == address(0)) revert TraceUnknownBatch(id);
        if (b.producer != msg.sender && _roleBits[msg.sender] & _ADMIN == 0) {
            revert TraceNotProducerOrAdmin(id, msg.sender);
        }
        if (s.recalled()) revert TraceBatchRecalled(id);
        b.state = s.withRecalled();
        emit BatchRecalled(id, msg.sender, reasonHash);
    }

    /// @inheritdoc ITraceRegistry
    function anchorRoot(bytes32 root, uint32 count, bytes32 metaHash) external {
        if (_roleBits[msg.sender] == 0) revert TraceNoRole(msg.sender);
        if (root == 0) revert TraceInvalidRoot();
        Root storage r = _roots[msg.sender][root];
        if (r.anchoredAt != 0) revert TraceRootExists(root);
        (r.anchoredAt, r.count) = (uint64(block.timestamp), count);
        emit RootAnchored(root, msg.sender, count, metaHash);
    }

    // ---- views ----

    /// @inheritdoc ITraceRegistry
    function exists(bytes32 id) external view returns (bool) {
        return _batches[id].state.custodian() != address(0);
    }

    /// @inheritdoc ITraceRegistry
    function getBatch(bytes32 id) external view returns (BatchView memory v) {
        Batch storage b = _batches[id];
        BatchState s = b.state;
        if (s.custodian() == address(0)) revert TraceUnknownBatch(id);
        ShipmentSlot sh = b.shipment;
        v.producer = b.producer;
        v.custodian = s.custodian();
        v.consignee = _consignee(s, sh);
        v.registeredAt = sh.registeredAt();
        v.shippedAt = sh.shippedAt();
        v.deliveredAt = s.deliveredAt();
        v.eventCount = s.eventCount();
        v.inTransit = s.inTransit();
        v.recalled = s.recalled();
        v.quantity = b.quantity;
        v.uom = b.uom;
        v.metadataHash = b.metadataHash;
        v.head = b.head;
    }

    /// @inheritdoc ITraceRegistry
    function custodian(bytes32 id) external view returns (address) {
        return _batches[id].state.custodian();
    }

    /// @inheritdoc ITraceRegistry
    function consignee(bytes32 id) external view returns (address) {
        Batch storage b = _batches[id];
        return _consignee(b.state, b.shipment);
    }

    /// @inheritdoc ITraceRegistry
    function shippedAt(bytes32 id) external view returns (uint64) {
        return _batches[id].shipment.shippedAt();
    }

    /// @inheritdoc ITraceRegistry
    function deliveredAt(bytes32 id) external view returns (uint64) {
        return _batches[id].state.deliveredAt();
    }

    /// @inheritdoc ITraceRegistry
    function latestShipment(bytes32 id, address to)
        external
        view
        returns (Shipment memory shipment, bool recalled)
    {
        Batch storage b = _batches[id];
        BatchState s = b.state;
        recalled = _isRecalled(id, s);
        ShipmentSlot sh = b.shipment;
        if (to != address(0) && _consignee(s, sh) == to) {
            bool moving = s.inTransit();
            shipment.shipper = moving ? s.custodian() : sh.other(to);
            shipment.deliveredAt = s.deliveredAt();
            shipment.received = s.received();
            shipment.inTransit = moving;
        } else {
            shipment = HandedOnLibrary.unpack(_handedOn[id][to]);
        }
    }

    /// @inheritdoc ITraceRegistry
    function isRecalled(bytes32 id) external view returns (bool) {
        return _isRecalled(id);
    }

    /// @inheritdoc ITraceRegistry
    function head(bytes32 id) external view returns (bytes32) {
        return _batches[id].head;
    }

    /// @inheritdoc ITraceRegistry
    function eventCount(bytes32 id) external view returns (uint32) {
        return _batches[id].state.eventCount();
    }

    /// @inheritdoc ITraceRegistry
    function parentsOf(bytes32 id) external view returns (bytes32[] memory) {
        return _parents[id];
    }

    /// @inheritdoc ITraceRegistry
    function rootInfo(address anchorer, bytes32 root) external view returns (uint64 anchoredAt, uint32 count) {
        Root storage r = _roots[anchorer][root];
        return (r.anchoredAt, r.count);
    }

    /// @inheritdoc ITraceRegistry
    function verifyEvent(address anchorer, bytes32 root, bytes32 eventHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (_roots[anchorer][root].anchoredAt == 0) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(eventHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    // ---- internals ----

    /// @dev Keeps `_roleBits` in step with AccessControl: every grant goes through here.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted) _roleBits[account] |= _bitOf(role);
    }

    /// @dev Keeps `_roleBits` in step with AccessControl: every revocation and renouncement goes through here.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked) _roleBits[account] &= ~_bitOf(role);
    }

    function _rule(Step step, uint256 bits) private pure returns (uint256) {
        return bits << (16 * uint256(step));
    }

    function _bitOf(bytes32 role) private pure returns (uint256) {
        if (role == DEFAULT_ADMIN_ROLE) return _ADMIN;
        if (role == PRODUCER_ROLE) return _PRODUCER;
        if (role == PROCESSOR_ROLE) return _PROCESSOR;
        if (role == CARRIER_ROLE) return _CARRIER;
        if (role == INSPECTOR_ROLE) return _INSPECTOR;
        if (role == RETAILER_ROLE) return _RETAILER;
        return 0;
    }

    function _create(bytes32 id, uint256 ancestors, bytes32 metadataHash, uint128 quantity, bytes8 uom) private {
        if (id == 0) revert TraceInvalidBatchId();
        Batch storage b = _batches[id];
        if (b.state.custodian() != address(0)) revert TraceBatchExists(id);
        // ancestors <= MAX_ANCESTORS (checked by the caller) fits in uint8
        b.state = BatchStateLibrary.create(msg.sender, uint8(ancestors));
        b.head = id;
        b.shipment = ShipmentSlotLibrary.create(uint40(block.timestamp));
        b.producer = msg.sender;
        b.uom = uom;
        b.quantity = quantity;
        b.metadataHash = metadataHash;
    }

    /// @dev Checks and appends one event. `step` and `to` are raw ABI words (validated here); `roles` is the
    /// caller's role mask plus `_ANYONE`, read once per transaction.
    ///
    /// Most events are plain: the batch exists with no recall or lineage to check, the caller holds a role for the
    /// step and custody if it needs it, and the step moves nothing. One combined test admits those; anything else
    /// goes through {_check}, which performs every check in order, reverts with the error that names the failure,
    /// and applies shipping and delivery. Both paths then append the event the same way.
    function _record(bytes32 id, uint256 step, bytes32 eventHash, uint256 to, uint256 roles)
        private
        returns (uint32 seq)
    {
        Batch storage b = _batches[id];
        BatchState s = b.state;
        address holder = s.custodian();
        uint256 rule = _RULES >> (step << 4);
        uint256 custodyMiss; // nonzero when the step needs custody and the caller is not the custodian
        // (rule & _CUSTODY) is 0 or 2**8 and the xor is below 2**160, so the product cannot overflow
        unchecked {
            custodyMiss = (rule & _CUSTODY) * (uint160(holder) ^ uint160(msg.sender));
        }
        if (
            holder == address(0) || step > _LAST_STEP || rule & roles == 0
                || (s.recallBits() | (rule & _MOVES) | to | custodyMiss) != 0
        ) {
            s = _check(b, s, id, step, to, roles);
        }
        (s, seq) = s.withNextEvent();
        b.state = s;
        b.head = Hashes.efficientKeccak256(b.head, eventHash);
        // emit EventRecorded(id, seq, Step(step), eventHash, msg.sender), without the ABI encoder's calls and enum
        // re-check; the data words are laid out as the ABI lays them out.
        bytes32 topic = EventRecorded.selector;
        assembly ("memory-safe") {
            let ptr := mload(0x40) // scratch past the free memory pointer: nothing is allocated after the log
            mstore(ptr, and(seq, 0xffffffff)) // a uint32 on the stack may carry dirty upper bits
            mstore(add(ptr, 0x20), step)
            mstore(add(ptr, 0x40), eventHash)
            log3(ptr, 0x60, topic, id, caller())
        }
    }

    /// @dev The full rules of an event, in order, and the effects of the steps that ship or deliver.
    function _check(Batch storage b, BatchState s, bytes32 id, uint256 rawStep, uint256 rawTo, uint256 roles)
        private
        returns (BatchState)
    {
        // a malformed word reverts without data, as the ABI decoder would
        if (rawStep > _LAST_STEP || rawTo >> 160 != 0) revert();
        Step step = Step(rawStep);
        address to = address(uint160(rawTo));
        address holder = s.custodian();
        if (holder == address(0)) revert TraceUnknownBatch(id);
        if (_isRecalled(id, s)) revert TraceBatchRecalled(id);
        uint256 rule = _RULES >> (rawStep << 4);
        if (rule & roles == 0) revert TraceUnauthorizedStep(msg.sender, step);
        if (rule & _CUSTODY != 0 && holder != msg.sender) revert TraceNotCustodian(id, msg.sender, holder);
        if (step == Step.Shipping) return _ship(b, s, id, to);
        if (to != address(0)) revert TraceUnexpectedRecipient(step, to);
        if (rule & _MOVES == 0) return s;
        if (!s.inTransit()) revert TraceNotInTransit(id);
        if (step == Step.Departing) return s;
        address named = b.shipment.other(holder);
        if (step == Step.Receiving && named != msg.sender) revert TraceNotConsignee(id, msg.sender, named);
        emit CustodyTransferred(id, holder, named);
        return s.delivered(named, uint40(block.timestamp), named == msg.sender);
    }

    /// @dev A shipment by the custodian (the caller). When the batch was delivered before, the caller was that
    /// delivery's consignee: the delivery is kept per (batch, caller) before the batch's slots move on to the new
    /// shipment, so an escrow can still settle a trade on it.
    function _ship(Batch storage b, BatchState s, bytes32 id, address to) private returns (BatchState) {
        if (s.inTransit()) revert TraceAlreadyInTransit(id);
        if (to == address(0) || to == msg.sender) revert TraceInvalidConsignee(to);
        ShipmentSlot sh = b.shipment;
        if (sh.shippedAt() != 0) {
            _handedOn[id][msg.sender] =
                HandedOnLibrary.pack(sh.other(msg.sender), s.deliveredAt(), uint40(block.timestamp), s.received());
        }
        b.shipment = sh.shipping(msg.sender, to, uint40(block.timestamp));
        emit BatchShipped(id, msg.sender, to);
        return s.shipped();
    }

    /// @dev The consignee of the latest shipment, zero if there was none: while in transit the party that is not
    /// the custodian, after delivery the custodian itself (custody moves only by delivery).
    function _consignee(BatchState s, ShipmentSlot sh) private pure returns (address) {
        if (sh.shippedAt() == 0) return address(0);
        return s.inTransit() ? sh.other(s.custodian()) : s.custodian();
    }

    function _isRecalled(bytes32 id) private view returns (bool) {
        return _isRecalled(id, _batches[id].state);
    }

    function _isRecalled(bytes32 id, BatchState s) private view returns (bool) {
        return s.recalled() || (s.ancestorCount() != 0 && _ancestorRecalled(id, s.ancestorCount()));
    }

    /// @dev Depth-first walk over the parent DAG; `visits` is the batch's ancestor count. A batch reached by two
    /// paths is visited twice, so the walk pushes exactly `visits` ids in all (<= MAX_ANCESTORS) and the stack,
    /// sized `visits`, never overflows.
    function _ancestorRecalled(bytes32 id, uint256 visits) private view returns (bool) {
        bytes32[] memory stack = new bytes32[](visits);
        uint256 top = _pushParents(stack, 0, id);
        while (top != 0) {
            // top > 0, so this cannot underflow
            unchecked {
                --top;
            }
            bytes32 ancestor = stack[top];
            BatchState s = _batches[ancestor].state;
            if (s.recalled()) return true;
            if (s.ancestorCount() != 0) top = _pushParents(stack, top, ancestor);
        }
        return false;
    }

    function _pushParents(bytes32[] memory stack, uint256 top, bytes32 id) private view returns (uint256) {
        bytes32[] storage ps = _parents[id];
        uint256 n = ps.length;
        for (uint256 i; i < n; ++i) {
            stack[top + i] = ps[i];
        }
        return top + n;
    }
}
