// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ITraceRegistry} from "./interfaces/ITraceRegistry.sol";

/// @title TraceRegistry
/// @notice Custody, hash-chained lifecycle events, lineage and recalls of GS1 batches, plus Merkle roots of
/// events kept off-chain.
/// @dev Gas layout: a plain event reads and writes exactly two batch slots (slot 0 and `head`) and reads one role
/// word, so it costs three cold slots, two dirty writes and one log. Roles are mirrored into a per-account bit mask
/// (`_roleBits`) by the `_grantRole`/`_revokeRole` overrides, so "holds any of these roles" is one SLOAD instead of
/// one per role.
contract TraceRegistry is ITraceRegistry, AccessControl {
    bytes32 public constant PRODUCER_ROLE = keccak256("PRODUCER_ROLE");
    bytes32 public constant PROCESSOR_ROLE = keccak256("PROCESSOR_ROLE");
    bytes32 public constant CARRIER_ROLE = keccak256("CARRIER_ROLE");
    bytes32 public constant INSPECTOR_ROLE = keccak256("INSPECTOR_ROLE");
    bytes32 public constant RETAILER_ROLE = keccak256("RETAILER_ROLE");

    /// @notice Most parents a derived batch may have.
    uint256 public constant MAX_PARENTS = 16;

    /// @notice Most ancestor visits a lineage may need: a batch's ancestor count is the sum over its parents of
    /// (1 + the parent's ancestor count), i.e. the number of paths to an ancestor, so it is the exact number of
    /// nodes the depth-first walk of {isRecalled} visits. Capping it caps that walk.
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

    /// @dev Roles allowed to record each step (any one of them), one byte per step, indexed by `uint8(step)`.
    /// Receiving has none: the consignee named by the shipper may receive without a role.
    uint256 private constant _STEP_ROLES = (_PRODUCER << (8 * uint8(Step.Commissioning)))
        | (_INSPECTOR << (8 * uint8(Step.Inspecting))) | (_HANDLERS << (8 * uint8(Step.Packing)))
        | (_SHIPPERS << (8 * uint8(Step.Shipping))) | (_PROCESSOR << (8 * uint8(Step.Transforming)))
        | (_HANDLERS << (8 * uint8(Step.Storing))) | (_RETAILER << (8 * uint8(Step.RetailSelling)))
        | (_CARRIER << (8 * uint8(Step.Arriving))) | (_CARRIER << (8 * uint8(Step.Departing)))
        | (_OPERATORS << (8 * uint8(Step.SensorReporting))) | (_HANDLERS << (8 * uint8(Step.Holding)))
        | (_HANDLERS << (8 * uint8(Step.Destroying)));

    /// @dev Steps only the custodian may record, one bit per step.
    uint256 private constant _CUSTODIAL_STEPS = (1 << uint8(Step.Commissioning)) | (1 << uint8(Step.Packing))
        | (1 << uint8(Step.Shipping)) | (1 << uint8(Step.Transforming)) | (1 << uint8(Step.Storing))
        | (1 << uint8(Step.RetailSelling)) | (1 << uint8(Step.Holding)) | (1 << uint8(Step.Destroying));

    struct Batch {
        // slot 0: read and written by every event
        address custodian; // nonzero exactly when the batch exists
        uint32 eventCount;
        uint40 registeredAt;
        uint8 ancestorCount; // <= MAX_ANCESTORS
        bool recalled;
        bool inTransit;
        // slot 1: written by every event; starts at the id so that no event writes a zero slot
        bytes32 head;
        // slot 2: touched by shipping and delivery only
        address consignee;
        uint40 shippedAt;
        uint40 deliveredAt;
        // slots 3-5: written once, at registration
        address producer;
        bytes8 uom;
        uint128 quantity;
        bytes32 metadataHash;
    }

    struct Root {
        address anchorer;
        uint64 anchoredAt;
        uint32 count;
    }

    mapping(bytes32 id => Batch) private _batches;
    mapping(bytes32 id => bytes32[]) private _parents;
    mapping(bytes32 id => mapping(address shipper => uint64)) private _shippedBy;
    mapping(bytes32 id => mapping(address account => uint64)) private _deliveredTo;
    mapping(bytes32 root => Root) private _roots;
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
            Batch storage p = _batches[pid];
            address holder = p.custodian;
            if (holder == address(0)) revert TraceUnknownBatch(pid);
            if (holder != msg.sender) revert TraceNotCustodian(pid, msg.sender, holder);
            if (p.inTransit) revert TraceAlreadyInTransit(pid);
            ancestors += 1 + p.ancestorCount;
        }
        if (ancestors > MAX_ANCESTORS) revert TraceLineageTooLarge(ancestors, MAX_ANCESTORS);
        // Walk the parents' lineages only once the total is known to be bounded.
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
        return _record(id, step, eventHash, to, _roleBits[msg.sender]);
    }

    /// @inheritdoc ITraceRegistry
    function recordEvents(EventInput[] calldata events) external {
        uint256 n = events.length;
        if (n == 0) revert TraceEmptyEvents();
        uint256 roles = _roleBits[msg.sender]; // one cold read for the whole call
        for (uint256 i; i < n; ++i) {
            EventInput calldata e = events[i];
            _record(e.id, e.step, e.eventHash, e.to, roles);
        }
    }

    /// @inheritdoc ITraceRegistry
    function recall(bytes32 id, bytes32 reasonHash) external {
        Batch storage b = _batches[id];
        if (b.custodian == address(0)) revert TraceUnknownBatch(id);
        if (b.producer != msg.sender && _roleBits[msg.sender] & _ADMIN == 0) {
            revert TraceNotProducerOrAdmin(id, msg.sender);
        }
        if (b.recalled) revert TraceBatchRecalled(id);
        b.recalled = true;
        emit BatchRecalled(id, msg.sender, reasonHash);
    }

    /// @inheritdoc ITraceRegistry
    function anchorRoot(bytes32 root, uint32 count, bytes32 metaHash) external {
        if (_roleBits[msg.sender] == 0) revert TraceNoRole(msg.sender);
        if (root == 0) revert TraceInvalidRoot();
        if (_roots[root].anchoredAt != 0) revert TraceRootExists(root);
        _roots[root] = Root({anchorer: msg.sender, anchoredAt: uint64(block.timestamp), count: count});
        emit RootAnchored(root, msg.sender, count, metaHash);
    }

    // ---- views ----

    /// @inheritdoc ITraceRegistry
    function exists(bytes32 id) external view returns (bool) {
        return _batches[id].custodian != address(0);
    }

    /// @inheritdoc ITraceRegistry
    function getBatch(bytes32 id) external view returns (BatchView memory v) {
        Batch storage b = _batches[id];
        if (b.custodian == address(0)) revert TraceUnknownBatch(id);
        v.producer = b.producer;
        v.custodian = b.custodian;
        v.consignee = b.consignee;
        v.registeredAt = b.registeredAt;
        v.shippedAt = b.shippedAt;
        v.deliveredAt = b.deliveredAt;
        v.eventCount = b.eventCount;
        v.inTransit = b.inTransit;
        v.recalled = b.recalled;
        v.quantity = b.quantity;
        v.uom = b.uom;
        v.metadataHash = b.metadataHash;
        v.head = b.head;
    }

    /// @inheritdoc ITraceRegistry
    function custodian(bytes32 id) external view returns (address) {
        return _batches[id].custodian;
    }

    /// @inheritdoc ITraceRegistry
    function consignee(bytes32 id) external view returns (address) {
        return _batches[id].consignee;
    }

    /// @inheritdoc ITraceRegistry
    function shippedAt(bytes32 id) external view returns (uint64) {
        return _batches[id].shippedAt;
    }

    /// @inheritdoc ITraceRegistry
    function deliveredAt(bytes32 id) external view returns (uint64) {
        return _batches[id].deliveredAt;
    }

    /// @inheritdoc ITraceRegistry
    function shippedBy(bytes32 id, address shipper) external view returns (uint64) {
        return _shippedBy[id][shipper];
    }

    /// @inheritdoc ITraceRegistry
    function deliveredTo(bytes32 id, address account) external view returns (uint64) {
        return _deliveredTo[id][account];
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
        return _batches[id].eventCount;
    }

    /// @inheritdoc ITraceRegistry
    function parentsOf(bytes32 id) external view returns (bytes32[] memory) {
        return _parents[id];
    }

    /// @inheritdoc ITraceRegistry
    function rootInfo(bytes32 root) external view returns (address anchorer, uint64 anchoredAt, uint32 count) {
        Root storage r = _roots[root];
        return (r.anchorer, r.anchoredAt, r.count);
    }

    /// @inheritdoc ITraceRegistry
    function verifyEvent(bytes32 root, bytes32 eventHash, bytes32[] calldata proof) external view returns (bool) {
        if (_roots[root].anchoredAt == 0) return false;
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
        if (b.custodian != address(0)) revert TraceBatchExists(id);
        b.custodian = msg.sender;
        b.registeredAt = uint40(block.timestamp);
        b.ancestorCount = uint8(ancestors); // <= MAX_ANCESTORS, checked by the caller
        b.head = id;
        b.producer = msg.sender;
        b.uom = uom;
        b.quantity = quantity;
        b.metadataHash = metadataHash;
    }

    /// @dev Checks and appends one event. `roles` is the caller's role mask, read once per transaction.
    function _record(bytes32 id, Step step, bytes32 eventHash, address to, uint256 roles)
        private
        returns (uint32 seq)
    {
        Batch storage b = _batches[id];
        address holder = b.custodian;
        if (holder == address(0)) revert TraceUnknownBatch(id);
        if (b.recalled || (b.ancestorCount != 0 && _ancestorRecalled(id, b.ancestorCount))) {
            revert TraceBatchRecalled(id);
        }
        if (to != address(0) && step != Step.Shipping) revert TraceUnexpectedRecipient(step, to);
        uint256 s = uint8(step);
        uint256 allowed = (_STEP_ROLES >> (8 * s)) & 0xff;
        if (allowed != 0 && roles & allowed == 0) revert TraceUnauthorizedStep(msg.sender, step);
        if ((_CUSTODIAL_STEPS >> s) & 1 != 0 && holder != msg.sender) {
            revert TraceNotCustodian(id, msg.sender, holder);
        }
        if (step == Step.Shipping) {
            _ship(b, id, to);
        } else if (step == Step.Receiving) {
            if (!b.inTransit) revert TraceNotInTransit(id);
            if (b.consignee != msg.sender) revert TraceNotConsignee(id, msg.sender, b.consignee);
            _deliver(b, id, holder);
        } else if (step == Step.Arriving) {
            if (!b.inTransit) revert TraceNotInTransit(id);
            _deliver(b, id, holder);
        } else if (step == Step.Departing) {
            if (!b.inTransit) revert TraceNotInTransit(id);
        }
        seq = b.eventCount + 1;
        b.eventCount = seq;
        b.head = keccak256(abi.encodePacked(b.head, eventHash));
        emit EventRecorded(id, seq, step, eventHash, msg.sender);
    }

    function _ship(Batch storage b, bytes32 id, address to) private {
        if (b.inTransit) revert TraceAlreadyInTransit(id);
        if (to == address(0) || to == msg.sender) revert TraceInvalidConsignee(to);
        b.inTransit = true;
        b.consignee = to;
        b.shippedAt = uint40(block.timestamp);
        b.deliveredAt = 0;
        if (_shippedBy[id][msg.sender] == 0) _shippedBy[id][msg.sender] = uint64(block.timestamp);
        emit BatchShipped(id, msg.sender, to);
    }

    function _deliver(Batch storage b, bytes32 id, address from) private {
        address to = b.consignee;
        b.custodian = to;
        b.inTransit = false;
        b.deliveredAt = uint40(block.timestamp);
        if (_deliveredTo[id][to] == 0) _deliveredTo[id][to] = uint64(block.timestamp);
        emit CustodyTransferred(id, from, to);
    }

    function _isRecalled(bytes32 id) private view returns (bool) {
        Batch storage b = _batches[id];
        return b.recalled || (b.ancestorCount != 0 && _ancestorRecalled(id, b.ancestorCount));
    }

    /// @dev Depth-first walk over the parent DAG, `visits` = the batch's ancestor count. A batch reached by two
    /// paths is visited twice, so the walk pushes exactly `visits` ids in all (<= MAX_ANCESTORS) and the stack
    /// never overflows.
    function _ancestorRecalled(bytes32 id, uint256 visits) private view returns (bool) {
        bytes32[] memory stack = new bytes32[](visits);
        uint256 top = _push(stack, 0, id);
        while (top != 0) {
            // top > 0, so this cannot underflow
            unchecked {
                --top;
            }
            Batch storage p = _batches[stack[top]];
            if (p.recalled) return true;
            if (p.ancestorCount != 0) top = _push(stack, top, stack[top]);
        }
        return false;
    }

    function _push(bytes32[] memory stack, uint256 top, bytes32 id) private view returns (uint256) {
        bytes32[] storage ps = _parents[id];
        uint256 n = ps.length;
        for (uint256 i; i < n; ++i) {
            stack[top + i] = ps[i];
        }
        return top + n;
    }
}
