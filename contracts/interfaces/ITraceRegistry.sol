// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ITraceRegistry
/// @notice Supply-chain history of GS1 batches: custody, lifecycle steps as CBV 2.0 bizSteps, a hash-chained
/// event history per batch, transformation lineage, transitive recalls and Merkle roots of off-chain events.
/// @dev A batch id is `keccak256` of the canonical GS1 Digital Link key path `/01/<GTIN-14>/10/<lot>`.
interface ITraceRegistry {
    /// @notice Lifecycle steps, each one a CBV 2.0 bizStep (`https://ref.gs1.org/cbv/BizStep-<name>`).
    enum Step {
        Commissioning, // 0 commissioning
        Inspecting, // 1 inspecting
        Packing, // 2 packing
        Shipping, // 3 shipping: names a consignee (`to`)
        Receiving, // 4 receiving: by the consignee, moves custody
        Transforming, // 5 transforming
        Storing, // 6 storing
        RetailSelling, // 7 retail_selling
        Arriving, // 8 arriving: delivery by a carrier, moves custody to the consignee
        Departing, // 9 departing
        SensorReporting, // 10 sensor_reporting
        Holding, // 11 holding
        Destroying // 12 destroying
    }

    /// @notice One event of a `recordEvents` call.
    struct EventInput {
        bytes32 id;
        Step step;
        bytes32 eventHash;
        uint64 location; // GLN (13 digits) of the read point, 0 when not given
        address to; // consignee of a Shipping step, zero otherwise
    }

    /// @notice Everything stored about a batch.
    struct BatchView {
        address producer;
        address custodian;
        address consignee; // consignee of the latest shipment
        uint64 registeredAt;
        uint64 shippedAt; // latest shipment, 0 if never shipped
        uint64 deliveredAt; // latest shipment's delivery, 0 if not delivered
        uint32 eventCount;
        bool inTransit;
        bool recalled; // recalled itself; see isRecalled for the transitive answer
        uint128 quantity;
        bytes8 uom; // UN/ECE Rec 20 unit code, e.g. "KGM", left aligned
        bytes32 metadataHash;
        bytes32 head; // hash-chain head: starts at the batch id, head = keccak256(head, eventHash)
    }

    // ---- errors ----
    error TraceUnknownBatch(bytes32 id);
    error TraceBatchExists(bytes32 id);
    error TraceInvalidBatchId();
    error TraceUnauthorizedStep(address account, Step step);
    error TraceNotCustodian(bytes32 id, address account, address custodian);
    error TraceNotConsignee(bytes32 id, address account, address consignee);
    error TraceNotInTransit(bytes32 id);
    error TraceAlreadyInTransit(bytes32 id);
    error TraceInvalidConsignee(address consignee);
    error TraceUnexpectedRecipient(Step step, address to);
    error TraceBatchRecalled(bytes32 id);
    error TraceNotProducerOrAdmin(bytes32 id, address account);
    error TraceNoRole(address account);
    error TraceInvalidParents(uint256 count);
    error TraceLineageTooLarge(uint256 ancestors, uint256 max);
    error TraceRootExists(bytes32 root);
    error TraceInvalidRoot();
    error TraceEmptyEvents();

    // ---- events ----
    event BatchRegistered(
        bytes32 indexed id, address indexed producer, bytes32 metadataHash, uint128 quantity, bytes8 uom
    );
    event BatchDerived(
        bytes32 indexed id,
        address indexed actor,
        bytes32[] parentIds,
        bytes32 metadataHash,
        uint128 quantity,
        bytes8 uom
    );
    event EventRecorded(bytes32 indexed id, uint32 seq, Step step, bytes32 eventHash, address indexed actor);
    event BatchShipped(bytes32 indexed id, address indexed shipper, address indexed consignee);
    event CustodyTransferred(bytes32 indexed id, address indexed from, address indexed to);
    event BatchRecalled(bytes32 indexed id, address indexed actor, bytes32 reasonHash);
    event RootAnchored(bytes32 indexed root, address indexed anchorer, uint32 count, bytes32 metaHash);

    // ---- writes ----
    function registerBatch(bytes32 id, bytes32 metadataHash, uint128 quantity, bytes8 uom) external;

    function deriveBatch(
        bytes32 newId,
        bytes32[] calldata parentIds,
        bytes32 metadataHash,
        uint128 quantity,
        bytes8 uom
    ) external;

    function recordEvent(bytes32 id, Step step, bytes32 eventHash, uint64 location, address to)
        external
        returns (uint32 seq);

    function recordEvents(EventInput[] calldata events) external;

    function recall(bytes32 id, bytes32 reasonHash) external;

    function anchorRoot(bytes32 root, uint32 count, bytes32 metaHash) external;

    // ---- views ----
    function exists(bytes32 id) external view returns (bool);

    function getBatch(bytes32 id) external view returns (BatchView memory);

    function custodian(bytes32 id) external view returns (address);

    function consignee(bytes32 id) external view returns (address);

    function shippedAt(bytes32 id) external view returns (uint64);

    function deliveredAt(bytes32 id) external view returns (uint64);

    /// @notice When `shipper` first shipped batch `id`, 0 if never.
    function shippedBy(bytes32 id, address shipper) external view returns (uint64);

    /// @notice When batch `id` was first delivered to `account` (received, or delivered by a carrier), 0 if never.
    function deliveredTo(bytes32 id, address account) external view returns (uint64);

    /// @notice True if the batch or any batch it was derived from, transitively, is recalled.
    function isRecalled(bytes32 id) external view returns (bool);

    function head(bytes32 id) external view returns (bytes32);

    function eventCount(bytes32 id) external view returns (uint32);

    function parentsOf(bytes32 id) external view returns (bytes32[] memory);

    function rootInfo(bytes32 root) external view returns (address anchorer, uint64 anchoredAt, uint32 count);

    /// @notice True if `root` is anchored and `proof` proves leaf `keccak256(keccak256(abi.encode(eventHash)))`.
    function verifyEvent(bytes32 root, bytes32 eventHash, bytes32[] calldata proof) external view returns (bool);
}
