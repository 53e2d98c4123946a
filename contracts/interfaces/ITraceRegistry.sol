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

    /// @notice The latest shipment of a batch to one consignee, as {latestShipment} returns it: what an escrow
    /// needs to tell whether a shipment and its delivery belong to a trade.
    struct Shipment {
        address shipper; // zero if the batch was never shipped to the consignee
        uint40 deliveredAt; // 0 while in transit
        uint40 handedOnAt; // when the consignee shipped the batch on after this delivery, 0 if it has not
        bool received; // delivered by the consignee's own event (its Receiving), not a carrier's Arriving
        bool inTransit; // the shipment has not been delivered yet
    }

    /// @notice Everything stored about a batch.
    struct BatchView {
        address producer;
        address custodian;
        address consignee; // consignee of the latest shipment
        uint64 registeredAt;
        uint64 shippedAt; // latest shipment, 0 if never shipped
        uint64 deliveredAt; // latest shipment's delivery, 0 if not delivered (yet)
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

    /// @notice Registers batch `id`, produced and held by the caller.
    /// @dev Requirements:
    /// - the caller holds PRODUCER_ROLE (else `AccessControlUnauthorizedAccount`);
    /// - `id` is nonzero and not registered yet.
    ///
    /// The hash-chain head starts at `id`. Emits a {BatchRegistered} event.
    /// @param id keccak256 of the batch's GS1 Digital Link key path
    /// @param metadataHash hash of the off-chain master data (product, lot, expiry)
    /// @param quantity amount in `uom`
    /// @param uom UN/ECE Rec 20 unit code, left aligned
    function registerBatch(bytes32 id, bytes32 metadataHash, uint128 quantity, bytes8 uom) external;

    /// @notice Registers batch `newId`, made from `parentIds` (a transformation), held by the caller.
    /// @dev Requirements:
    /// - the caller holds PROCESSOR_ROLE or PRODUCER_ROLE (else `AccessControlUnauthorizedAccount` naming
    ///   PROCESSOR_ROLE);
    /// - 1 to MAX_PARENTS distinct parents (else {TraceInvalidParents}), each registered, held by the caller,
    ///   not in transit and not recalled, transitively;
    /// - the lineage stays within MAX_ANCESTORS (see {isRecalled});
    /// - `newId` is nonzero and not registered yet.
    ///
    /// Emits a {BatchDerived} event.
    /// @param newId id of the new batch
    /// @param parentIds the input batches
    /// @param metadataHash hash of the off-chain master data
    /// @param quantity amount in `uom`
    /// @param uom UN/ECE Rec 20 unit code, left aligned
    function deriveBatch(
        bytes32 newId,
        bytes32[] calldata parentIds,
        bytes32 metadataHash,
        uint128 quantity,
        bytes8 uom
    ) external;

    /// @notice Appends an event to batch `id`'s history: `head = keccak256(head, eventHash)`, `eventCount += 1`.
    /// @dev Requirements:
    /// - the batch is registered and not recalled, transitively;
    /// - the caller may record `step` (else {TraceUnauthorizedStep} or {TraceNotCustodian}):
    ///   | step                                  | roles, any one                         | custodian only |
    ///   | Commissioning                         | producer                               | yes            |
    ///   | Inspecting                            | inspector                              | no             |
    ///   | Packing, Storing, Holding, Destroying | producer, processor, carrier, retailer | yes            |
    ///   | Transforming                          | processor                              | yes            |
    ///   | RetailSelling                         | retailer                               | yes            |
    ///   | Shipping                              | producer, processor, retailer          | yes            |
    ///   | Receiving                             | none: the consignee                    | no             |
    ///   | Arriving, Departing                   | carrier                                | no             |
    ///   | SensorReporting                       | any of the five                        | no             |
    /// - `to` is zero, except for Shipping;
    /// - Shipping: the batch is not in transit and `to` is neither zero nor the caller; `to` becomes the
    ///   consignee. Emits a {BatchShipped} event.
    /// - Receiving (by the consignee) and Arriving (by a carrier): the batch is in transit; custody moves to the
    ///   consignee. Emits a {CustodyTransferred} event.
    /// - Departing: the batch is in transit.
    ///
    /// Emits an {EventRecorded} event, after the events above.
    /// @param id the batch
    /// @param step the CBV bizStep
    /// @param eventHash CBV 2.0 hash of the EPCIS event
    /// @param location GLN of the read point; part of the event that `eventHash` commits to, neither stored nor
    /// logged
    /// @param to the consignee of a Shipping step, zero otherwise
    /// @return seq the event's 1-based position in the batch's history
    function recordEvent(bytes32 id, Step step, bytes32 eventHash, uint64 location, address to)
        external
        returns (uint32 seq);

    /// @notice Records `events` in order, each under the rules of {recordEvent}; all or nothing.
    /// @dev Requirements: `events` is not empty (else {TraceEmptyEvents}). A malformed element (a step out of
    /// range, an address with dirty upper bits) reverts without data, as the ABI decoder would. Emits the events
    /// of {recordEvent} for each element.
    /// @param events the events
    function recordEvents(EventInput[] calldata events) external;

    /// @notice Recalls batch `id`, and with it every batch derived from it, transitively: see {isRecalled}.
    /// @dev Requirements:
    /// - the batch is registered and not recalled itself yet;
    /// - the caller is the batch's producer (its registrant) or holds DEFAULT_ADMIN_ROLE.
    ///
    /// Emits a {BatchRecalled} event.
    /// @param id the batch
    /// @param reasonHash hash of the off-chain recall notice
    function recall(bytes32 id, bytes32 reasonHash) external;

    /// @notice Anchors `root`, the Merkle root of `count` events kept off-chain (see {verifyEvent}), as the
    /// caller's.
    /// @dev A root belongs to whoever anchored it: anchors are keyed by (anchorer, root), so an account that copies
    /// a pending root from the mempool anchors only its own copy, and the original anchorer's transaction still
    /// succeeds and is the one attributed to it.
    ///
    /// Requirements: the caller holds any role (else {TraceNoRole}); `root` is nonzero and not anchored by the
    /// caller yet (else {TraceRootExists}).
    ///
    /// Emits a {RootAnchored} event.
    /// @param root the root
    /// @param count how many events the tree holds
    /// @param metaHash hash of the off-chain description of the tree
    function anchorRoot(bytes32 root, uint32 count, bytes32 metaHash) external;

    // ---- views ----

    /// @notice True if batch `id` is registered.
    function exists(bytes32 id) external view returns (bool);

    /// @notice Everything stored about batch `id`.
    /// @dev Reverts with {TraceUnknownBatch} if the batch is not registered.
    function getBatch(bytes32 id) external view returns (BatchView memory);

    /// @notice Who holds batch `id`, zero if it is not registered.
    function custodian(bytes32 id) external view returns (address);

    /// @notice The consignee of batch `id`'s latest shipment, zero if never shipped.
    function consignee(bytes32 id) external view returns (address);

    /// @notice When batch `id` was last shipped, 0 if never.
    function shippedAt(bytes32 id) external view returns (uint64);

    /// @notice When batch `id`'s latest shipment was delivered, 0 if not (yet).
    function deliveredAt(bytes32 id) external view returns (uint64);

    /// @notice The latest shipment of batch `id` to `account` (all zero if there was none), and whether the batch
    /// is recalled, transitively: everything an escrow reads to settle a trade, in one call.
    /// @dev A shipment to `account` is the batch's current one until `account` ships the batch on; then it is
    /// kept, with `handedOnAt`, until the next shipment to `account` replaces it. A shipment by whoever held the
    /// batch is recorded: an escrow must check `shipper` and the times against its trade.
    /// @param id the batch
    /// @param account the consignee
    /// @return shipment the latest shipment to `account`
    /// @return recalled as {isRecalled}
    function latestShipment(bytes32 id, address account)
        external
        view
        returns (Shipment memory shipment, bool recalled);

    /// @notice True if the batch or any batch it was derived from, transitively, is recalled.
    /// @dev A depth-first walk over the lineage that visits at most MAX_ANCESTORS batches, as deriveBatch bounds
    /// the number of paths from a batch to its ancestors. Every event on a derived batch pays for this walk.
    function isRecalled(bytes32 id) external view returns (bool);

    /// @notice The hash-chain head of batch `id`: its id, then `keccak256(head, eventHash)` per event.
    function head(bytes32 id) external view returns (bytes32);

    /// @notice How many events batch `id` has recorded.
    function eventCount(bytes32 id) external view returns (uint32);

    /// @notice The batches `id` was derived from, empty for a registered batch.
    function parentsOf(bytes32 id) external view returns (bytes32[] memory);

    /// @notice When `anchorer` anchored `root`, and how many events it said the root holds; zero if it did not.
    function rootInfo(address anchorer, bytes32 root) external view returns (uint64 anchoredAt, uint32 count);

    /// @notice True if `anchorer` anchored `root` and `proof` proves leaf
    /// `keccak256(keccak256(abi.encode(eventHash)))` under it.
    /// @dev The leaf of OpenZeppelin's StandardMerkleTree with leaf encoding `["bytes32"]`; pairs are hashed
    /// sorted, as MerkleProof does.
    function verifyEvent(address anchorer, bytes32 root, bytes32 eventHash, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
