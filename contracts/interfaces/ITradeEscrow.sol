// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITraceRegistry} from "./ITraceRegistry.sol";

/// @title ITradeEscrow
/// @notice Milestone escrow for trades of registered batches. A buyer funds a trade in one call; the price is paid
/// to the seller in milestones as the trace registry shows the batch shipped by the seller and delivered to the
/// buyer. An arbiter settles disputes. Every payout is credited and pulled with {withdraw}, so one party's failing
/// transfer never blocks another trade or another party.
/// @dev Trade ids start at 1. Amounts are in the token's smallest unit; `address(0)` stands for the native coin.
interface ITradeEscrow {
    /// @notice Life cycle of a trade. `None` is the state of an id that was never opened.
    enum State {
        None,
        Open, // funded; milestones are paid as the registry shows them
        Disputed, // the remainder is frozen until the arbiter rules or the ruling deadline passes
        Closed // nothing left in escrow: fully released, refunded or resolved
    }

    /// @notice Registry conditions that a milestone is keyed to.
    enum Milestone {
        Shipped, // the trade's own shipment exists: the seller's to the buyer, not completed before the opening
        Delivered // that shipment was received by the buyer, or delivered by a carrier and its window passed
    }

    /// @notice The Incoterms(R) 2020 rule of a trade; `None` for a trade that names none.
    /// @dev The rule sets the default schedule: where risk passes to the buyer at the hand-over to its carrier or
    /// at the seller's premises (EXW, F and C rules) the price is paid on the seller's shipment to the buyer (for
    /// EXW the registry's shipment stands for the pick-up); where it passes at destination (D rules) on delivery.
    enum Incoterm {
        None,
        EXW,
        FCA,
        CPT,
        CIP,
        DAP,
        DPU,
        DDP,
        FAS, // sea and inland waterway only, as FOB, CFR and CIF: the named place is a port
        FOB,
        CFR,
        CIF
    }

    /// @notice An invoice in another currency than the settlement token, converted at a price feed's rate.
    /// @dev `currency` is zero for a trade priced in the token itself. `amount` is in the currency's minor unit
    /// (ISO 4217: cents for EUR and CNY). `quotedRate` is the feed's answer the buyer was shown; the open fails if
    /// the feed moved more than `maxSlippageBps` from it.
    struct Invoice {
        uint256 amount;
        bytes3 currency; // ISO 4217 code, e.g. "EUR"
        uint256 quotedRate;
        uint16 maxSlippageBps;
    }

    /// @notice The trade terms recorded next to the money: Incoterms rule and place, invoice and its rate.
    /// @dev `currency` is zero (and the invoice fields with it) for a trade priced in the token.
    struct Terms {
        Incoterm incoterm;
        bytes5 place; // UN/LOCODE of the named place, zero without a rule
        bytes3 currency;
        uint8 rateDecimals;
        uint40 roundTime; // the feed round's update time
        uint96 invoiceAmount; // in the currency's minor unit; a line's own share of the invoice
        uint16 line; // 1-based place among the lines of one order, 0 for a single-batch trade
        uint16 lineCount; // lines of the order (trades `tradeId - line + 1` to `tradeId - line + lineCount`), or 0
        uint128 rate; // token units of the currency, scaled by 10^rateDecimals
        uint80 roundId;
    }

    /// @notice A price feed converting an invoice currency into a settlement token.
    struct PriceFeed {
        address feed; // AggregatorV3Interface quoting one unit of the currency in the token's unit (e.g. EUR / USD)
        uint32 maxAge; // a round older than this is stale
        uint8 feedDecimals;
        uint8 tokenDecimals;
        uint8 currencyDecimals; // ISO 4217 minor unit
    }

    /// @notice One line of an order: a batch and its share of the price (in the token, or in the invoice's minor
    /// units when the order is invoiced).
    struct Line {
        bytes32 batchId;
        uint256 amount;
    }

    /// @notice The terms a buyer opens a trade with.
    /// @dev `shippedBps + deliveredBps` must be 10000; both zero means the default: the Incoterm's (see
    /// {Incoterm}), or 100% on delivery without one. With an invoice `amount` must be zero: the escrow computes it.
    struct OpenParams {
        address seller;
        address arbiter;
        address token; // allowlisted ERC-20, or address(0) for the native coin
        bytes32 batchId; // batch in the trace registry
        uint256 amount; // the price; must arrive in full
        uint64 deliverBy; // unix time; after it an undelivered trade can be refunded
        uint32 rulingPeriod; // how long the arbiter has to rule once a dispute is opened
        uint16 shippedBps; // share paid when the seller has shipped the batch
        uint16 deliveredBps; // share paid when the batch is delivered to the buyer
        uint32 disputeWindow; // after a delivery the buyer did not record itself (a carrier's), its time to dispute
        Incoterm incoterm;
        bytes5 place; // UN/LOCODE, e.g. "CNSHA"; required with a rule, zero without
        Invoice invoice;
        Line[] lines; // empty for one batch (`batchId`, `amount`); else 2 to MAX_LINES lines, `batchId` zero
    }

    /// @notice Everything stored about a trade.
    /// @dev Once `Closed`, the buyer was refunded `amount - released`.
    struct Trade {
        address buyer;
        uint64 deliverBy;
        uint16 shippedBps;
        uint16 deliveredBps;
        address seller;
        uint40 openedAt;
        uint16 feeBps; // platform fee snapshotted at open
        State state;
        uint32 disputeWindow;
        address arbiter;
        uint64 disputedAt; // 0 if never disputed
        uint32 rulingPeriod;
        address token;
        bytes32 batchId;
        uint128 amount; // escrowed at open
        uint128 released; // paid towards the seller so far, fee included
    }

    // ---- errors ----
    /// @dev No trade was opened with id `tradeId`.
    error EscrowUnknownTrade(uint256 tradeId);
    /// @dev The call needs the trade `Open`; it is in `state`.
    error EscrowTradeNotOpen(uint256 tradeId, State state);
    /// @dev The call needs the trade `Disputed`; it is in `state`.
    error EscrowTradeNotDisputed(uint256 tradeId, State state);
    /// @dev The trade is `Closed`: nothing is left in escrow.
    error EscrowTradeClosed(uint256 tradeId);
    /// @dev Only the trade's buyer may call; `account` is not.
    error EscrowNotBuyer(uint256 tradeId, address account);
    /// @dev Only the trade's buyer or seller may call; `account` is neither.
    error EscrowNotParty(uint256 tradeId, address account);
    /// @dev Only the trade's arbiter may call; `account` is not.
    error EscrowNotArbiter(uint256 tradeId, address account);
    /// @dev A refund needs `block.timestamp > deliverBy`.
    error EscrowDeliveryDeadlineNotPassed(uint256 tradeId, uint64 deliverBy);
    /// @dev The registry shows the batch delivered to the buyer at `deliveredAt`, so no refund.
    error EscrowAlreadyDelivered(uint256 tradeId, uint64 deliveredAt);
    /// @dev The arbiter may rule until `rulingDeadline` inclusive.
    error EscrowRulingDeadlinePassed(uint256 tradeId, uint64 rulingDeadline);
    /// @dev The default rule applies only after `rulingDeadline`.
    error EscrowRulingDeadlineNotPassed(uint256 tradeId, uint64 rulingDeadline);
    /// @dev The default rule cannot decide yet: not recalled, not delivered, and `deliverBy` not passed.
    error EscrowOutcomePending(uint256 tradeId, uint64 deliverBy);
    /// @dev A share in basis points above 10000.
    error EscrowInvalidBps(uint256 bps);
    /// @dev The seller is the zero address or the buyer.
    error EscrowInvalidSeller(address seller);
    /// @dev The arbiter is the zero address, the buyer or the seller.
    error EscrowInvalidArbiter(address arbiter);
    /// @dev `token` is not allowlisted for new trades.
    error EscrowTokenNotAllowed(address token);
    /// @dev `token` cannot be used here: not a contract, or the native coin where an ERC-20 is needed.
    error EscrowInvalidToken(address token);
    /// @dev The amount is zero or does not fit in 96 bits (about 7.9e28 of the token's smallest unit).
    error EscrowInvalidAmount(uint256 amount);
    /// @dev `deliverBy` is not after `timestamp`, or further than {MAX_DELIVERY_WINDOW} from it.
    error EscrowInvalidDeadline(uint64 deliverBy, uint256 timestamp);
    /// @dev `rulingPeriod` is outside [{MIN_RULING_PERIOD}, {MAX_RULING_PERIOD}].
    error EscrowInvalidRulingPeriod(uint32 rulingPeriod);
    /// @dev `disputeWindow` is above {MAX_DISPUTE_WINDOW}.
    error EscrowInvalidDisputeWindow(uint32 disputeWindow);
    /// @dev The milestone shares neither sum to 10000 nor are both zero.
    error EscrowInvalidSchedule(uint16 shippedBps, uint16 deliveredBps);
    /// @dev The registry has no batch `batchId`.
    error EscrowUnknownBatch(bytes32 batchId);
    /// @dev The batch, or one it was derived from, is recalled.
    error EscrowBatchRecalled(bytes32 batchId);
    /// @dev `msg.value` is not the amount (native coin) or not zero (ERC-20).
    error EscrowNativeValueMismatch(uint256 value, uint256 expected);
    /// @dev The transfer delivered `received`, not `expected` (e.g. a fee-on-transfer token).
    error EscrowTransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @dev `account` has no balance of `token` to withdraw.
    error EscrowNothingToWithdraw(address account, address token);
    /// @dev `to` did not accept the native coin.
    error EscrowNativeTransferFailed(address to, uint256 amount);
    /// @dev Payouts cannot go to the zero address.
    error EscrowInvalidRecipient(address to);
    /// @dev The fee is above {MAX_FEE_BPS}.
    error EscrowFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @dev The fee recipient is the zero address.
    error EscrowInvalidFeeRecipient(address recipient);
    /// @dev A constructor argument is the zero address, or the registry is not a contract.
    error EscrowInvalidAddress(address account);
    /// @dev `place` is not a UN/LOCODE (two letters, then three letters or digits 2-9), or is given without a rule.
    error EscrowInvalidPlace(bytes5 place);
    /// @dev No price feed converts `currency` into `token`.
    error EscrowNoPriceFeed(bytes3 currency, address token);
    /// @dev The feed's latest round `roundId`, updated at `updatedAt`, is older than `maxAge` seconds.
    error EscrowStaleRate(bytes3 currency, uint80 roundId, uint256 updatedAt, uint32 maxAge);
    /// @dev The feed's rate `rate` moved more than `maxSlippageBps` from the quoted `quotedRate`.
    error EscrowRateSlipped(uint256 quotedRate, uint256 rate, uint16 maxSlippageBps);
    /// @dev The feed answered a rate that is not positive or does not fit in 128 bits.
    error EscrowInvalidRate(int256 answer);
    /// @dev An order has `count` lines, not between 2 and {MAX_LINES}, or names `batchId` beside its lines.
    error EscrowInvalidLines(uint256 count, bytes32 batchId);
    /// @dev The lines add up to `linesTotal`, not to the order's amount (or invoice amount) `orderTotal`.
    error EscrowLinesMismatch(uint256 linesTotal, uint256 orderTotal);
    /// @dev The invoice amount is zero or does not fit in 96 bits, or the token amount it converts to is invalid.
    error EscrowInvalidInvoice(uint256 amount, bytes3 currency);
    /// @dev `feed` is not a contract, or a decimals or age setting is out of range.
    error EscrowInvalidPriceFeed(address feed);

    // ---- events ----
    /// @notice A buyer opened and funded a trade.
    event TradeOpened(
        uint256 indexed tradeId,
        address indexed buyer,
        address indexed seller,
        bytes32 batchId,
        address token,
        uint256 amount,
        address arbiter,
        uint64 deliverBy,
        uint32 rulingPeriod,
        uint16 shippedBps,
        uint16 deliveredBps,
        uint16 feeBps,
        uint32 disputeWindow
    );
    /// @notice The trade `tradeId`, opened in the same transaction, names an Incoterms rule or an invoice currency,
    /// or is one line of an order.
    /// @dev `terms.rate` is token units per unit of `terms.currency`, scaled by 10^`terms.rateDecimals`; `roundId`
    /// and `roundTime` identify the feed round it was read from. The invoice fields are zero for a trade priced in
    /// the token; `line` and `lineCount` are zero for a trade of one batch.
    event TradeTermsRecorded(uint256 indexed tradeId, Terms terms);
    /// @notice A milestone was paid: `amount` towards the seller, of which `fee` went to the fee recipient.
    event MilestoneReleased(uint256 indexed tradeId, Milestone indexed milestone, uint256 amount, uint256 fee);
    /// @notice The buyer released the remainder early: `amount` towards the seller, `fee` of it to the platform.
    event ReceiptConfirmed(uint256 indexed tradeId, address indexed buyer, uint256 amount, uint256 fee);
    /// @notice The remainder of an undelivered trade went back to the buyer.
    event TradeRefunded(uint256 indexed tradeId, address indexed buyer, uint256 amount);
    /// @notice A party froze the remainder of a trade; the arbiter must rule by `rulingDeadline`.
    event DisputeOpened(uint256 indexed tradeId, address indexed by, bytes32 evidenceHash, uint64 rulingDeadline);
    /// @notice A party referenced off-chain evidence (a hash of it) for the arbiter.
    event EvidenceAdded(uint256 indexed tradeId, address indexed by, bytes32 evidenceHash);
    /// @notice A dispute ended: by the arbiter's ruling, or by the default rule once the ruling deadline passed.
    event DisputeResolved(
        uint256 indexed tradeId,
        address indexed resolver,
        uint256 toSeller,
        uint256 toBuyer,
        uint256 fee,
        bool byTimeout
    );
    /// @notice `account` pulled its credited balance of `token`, paid to `to`.
    event Withdrawn(address indexed account, address indexed token, address indexed to, uint256 amount);
    /// @notice The admin allowed or disallowed a token for new trades.
    event TokenAllowlistUpdated(address indexed token, bool allowed);
    /// @notice The admin set (or with `feed` zero, removed) the price feed converting `currency` into `token`.
    event PriceFeedUpdated(bytes3 indexed currency, address indexed token, address feed, uint32 maxAge);
    /// @notice The admin set the platform fee for new trades and the account that is credited with fees.
    event FeeUpdated(uint16 feeBps, address indexed recipient);

    // ---- trades ----
    /// @notice Opens a trade with the caller as buyer and funds it in the same call.
    /// @dev The buyer sets the terms, the arbiter included; the seller accepts them by shipping. A seller who does
    /// not accept them does not ship, and the buyer can take the money back by {refund} after `deliverBy`.
    /// The platform fee is snapshotted here and applies to this trade whatever the admin sets later.
    ///
    /// Requirements:
    /// - the escrow is not paused;
    /// - `p.token` is allowlisted; for the native coin `msg.value == p.amount`, otherwise `msg.value == 0` and the
    ///   caller approved `p.amount`, and exactly `p.amount` must arrive (fee-on-transfer tokens are rejected);
    /// - `p.seller` and `p.arbiter` are non-zero and distinct from each other and from the caller;
    /// - `p.batchId` exists in the registry and is not recalled;
    /// - `p.deliverBy` is in the future, at most {MAX_DELIVERY_WINDOW} away;
    /// - `p.rulingPeriod` is within [{MIN_RULING_PERIOD}, {MAX_RULING_PERIOD}];
    /// - `p.disputeWindow` is within [{MIN_DISPUTE_WINDOW}, {MAX_DISPUTE_WINDOW}]: a zero-filled `OpenParams`
    ///   never means "a carrier's delivery pays at once";
    /// - the schedule sums to 10000, or is (0, 0) for the Incoterm's default (100% on delivery without a rule);
    /// - with a rule, `p.place` has the shape of a UN/LOCODE; without one it is zero;
    /// - with an invoice, `p.amount` is zero, a price feed converts its currency into `p.token`, the feed's latest
    ///   round is at most the feed's `maxAge` old and within `maxSlippageBps` of `quotedRate`; the escrow takes
    ///   the converted amount, rounded down;
    /// - with `p.lines`: 2 to {MAX_LINES} lines, `p.batchId` zero, the lines' amounts adding up to `p.amount` (or
    ///   the invoice's amount); each line opens its own trade, ids consecutive from the one returned, and each
    ///   batch must exist and not be recalled. An invoiced line is converted on its own, rounded down.
    ///
    /// Emits a {TradeOpened} event per trade (line), each followed by a {TradeTermsRecorded} event if the trade
    /// names a rule or an invoice, or is a line of an order.
    /// @param p The trade terms.
    /// @return tradeId The new trade's id (the first line's, for an order of several lines).
    function open(OpenParams calldata p) external payable returns (uint256 tradeId);

    /// @notice Like {open}, for an ERC-20 with EIP-2612, approving through `permit` in the same call.
    /// @dev A failing permit is ignored, so a permit that a front-runner already submitted does not block the open;
    /// the transfer then fails if the allowance is short. The native coin is not accepted here. `value` is the
    /// allowance the permit grants: `p.amount`, or for an invoice the most the buyer accepts to pay (the quote plus
    /// its slippage); whatever the open does not take stays approved to the escrow.
    ///
    /// Emits a {TradeOpened} event.
    /// @param p The trade terms.
    /// @param value The permit's value.
    /// @param deadline The permit's deadline.
    /// @param v The permit signature's `v`.
    /// @param r The permit signature's `r`.
    /// @param s The permit signature's `s`.
    /// @return tradeId The new trade's id.
    function openWithPermit(OpenParams calldata p, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256 tradeId);

    /// @notice Pays every milestone whose registry condition holds now and was not paid yet. Anyone may call.
    /// @dev Idempotent: when nothing new is due, or the batch is recalled, it changes nothing and returns 0.
    /// The seller is credited the milestone minus the trade's fee; the fee recipient is credited the fee.
    /// Only the trade's own facts pay, read with {ITraceRegistry-latestShipment}: the latest shipment of the batch
    /// to the buyer, if the seller shipped it and the buyer had not completed it (recorded its receipt, or shipped
    /// the batch on) before the trade opened. A shipment under way at the opening counts; one to anyone else, by
    /// anyone else, or completed before the opening earns nothing. Shipped holds once that shipment exists.
    /// Delivered holds once the buyer recorded its own Receiving of it, or once a carrier's Arriving of it is
    /// `disputeWindow` old, counted from the opening if the carrier delivered before it: in that window the buyer
    /// can {dispute} a delivery it denies. The trade closes once nothing remains.
    ///
    /// Requirements:
    /// - the trade is `Open` (not disputed, not closed).
    ///
    /// Emits a {MilestoneReleased} event per milestone paid.
    /// @param tradeId The trade.
    /// @return amount The amount released towards the seller by this call, fee included.
    function release(uint256 tradeId) external returns (uint256 amount);

    /// @notice The buyer releases everything still in escrow to the seller and closes the trade.
    /// @dev Also allowed while `Disputed`: the buyer paying in full is the best outcome the seller can get, so it
    /// settles the dispute without the arbiter.
    ///
    /// Requirements:
    /// - the caller is the buyer;
    /// - the trade is `Open` or `Disputed`.
    ///
    /// Emits a {ReceiptConfirmed} event.
    /// @param tradeId The trade.
    function confirmReceipt(uint256 tradeId) external;

    /// @notice Returns the unreleased remainder of an undelivered trade to the buyer, after `deliverBy`.
    /// Anyone may call; the funds are credited to the buyer only. No fee is taken on the refund.
    /// @dev A Shipped milestone the seller earned (shipped to the buyer) and nobody released yet is paid to the
    /// seller first, as {release} would, unless the batch is recalled; so the split never depends on which of
    /// {release} and {refund} lands first.
    ///
    /// Requirements:
    /// - the trade is `Open`;
    /// - `block.timestamp > deliverBy`;
    /// - the registry shows no delivery of the trade's own shipment (see {release}) to the buyer.
    ///
    /// Emits a {MilestoneReleased} event if a Shipped milestone was due, and a {TradeRefunded} event.
    /// @param tradeId The trade.
    function refund(uint256 tradeId) external;

    /// @notice The buyer or the seller freezes the remainder and asks the arbiter to rule.
    /// @dev Anyone may {release} once the Delivered condition holds, so a buyer who wants to contest the goods
    /// disputes before recording its own receipt, or within `disputeWindow` of a carrier's delivery it denies.
    /// The arbiter must rule within the trade's `rulingPeriod`; after that, {resolveByTimeout} applies the default
    /// rule, which follows the registry's facts for the trade (see {resolveByTimeout}).
    ///
    /// Requirements:
    /// - the caller is the buyer or the seller;
    /// - the trade is `Open`.
    ///
    /// Emits a {DisputeOpened} event.
    /// @param tradeId The trade.
    /// @param evidenceHash Hash of the claim and its evidence, stored off-chain.
    function dispute(uint256 tradeId, bytes32 evidenceHash) external;

    /// @notice The buyer or the seller references more evidence. Only emits an event.
    /// @dev Requirements:
    /// - the caller is the buyer or the seller;
    /// - the trade is not `Closed`.
    ///
    /// Emits an {EvidenceAdded} event.
    /// @param tradeId The trade.
    /// @param evidenceHash Hash of the evidence, stored off-chain.
    function addEvidence(uint256 tradeId, bytes32 evidenceHash) external;

    /// @notice The arbiter splits the frozen remainder: `sellerBps` of it to the seller, the rest to the buyer.
    /// @dev The platform fee is taken from the seller's share only; the buyer's share is a refund. Rounding favours
    /// the buyer by less than one unit. Milestones already released are not part of the split.
    ///
    /// Requirements:
    /// - the caller is the trade's arbiter;
    /// - the trade is `Disputed`;
    /// - `block.timestamp <= disputedAt + rulingPeriod`;
    /// - `sellerBps <= 10000`.
    ///
    /// Emits a {DisputeResolved} event.
    /// @param tradeId The trade.
    /// @param sellerBps The seller's share of the remainder, in basis points.
    function resolve(uint256 tradeId, uint16 sellerBps) external;

    /// @notice After the ruling deadline, anyone may settle a dispute by the default rule: the result the trade
    /// would have reached without the dispute, as the registry shows it.
    /// @dev In order: if the batch is recalled, the buyer gets the remainder; if the trade's own shipment was
    /// received by the buyer, or delivered by a carrier whose dispute window had closed before the dispute, the
    /// seller gets it (a carrier-only delivery disputed inside its window counts as not delivered: a carrier's word
    /// never outweighs the buyer's timely dispute); if `deliverBy` passed without such a delivery, the seller gets
    /// any unpaid Shipped milestone it earned by shipping and the buyer the rest. Otherwise the outcome is not
    /// known yet and the call reverts.
    ///
    /// Requirements:
    /// - the trade is `Disputed`;
    /// - `block.timestamp > disputedAt + rulingPeriod`;
    /// - the batch is recalled, delivered to the buyer, or `block.timestamp > deliverBy`.
    ///
    /// Emits a {DisputeResolved} event.
    /// @param tradeId The trade.
    function resolveByTimeout(uint256 tradeId) external;

    // ---- payouts ----
    /// @notice Pays the caller's whole credited balance of `token` to the caller.
    /// @dev Requirements:
    /// - the caller has a non-zero balance of `token`.
    ///
    /// Emits a {Withdrawn} event.
    /// @param token The token, or address(0) for the native coin.
    function withdraw(address token) external;

    /// @notice Pays the caller's whole credited balance of `token` to `to`, e.g. when the caller cannot receive.
    /// @dev Requirements:
    /// - `to` is not the zero address;
    /// - the caller has a non-zero balance of `token`.
    ///
    /// Emits a {Withdrawn} event.
    /// @param token The token, or address(0) for the native coin.
    /// @param to The address paid.
    function withdrawTo(address token, address to) external;

    // ---- admin ----
    /// @notice Allows or disallows `token` for new trades. Trades already open settle in their token regardless.
    /// @dev Requirements:
    /// - the caller is an admin;
    /// - `token` is address(0) (the native coin) or a contract.
    ///
    /// Emits a {TokenAllowlistUpdated} event.
    /// @param token The token, or address(0) for the native coin.
    /// @param allowed Whether new trades may use it.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sets the platform fee for trades opened from now on, and the account credited with fees.
    /// @dev Requirements:
    /// - the caller is an admin;
    /// - `newFeeBps <= MAX_FEE_BPS`;
    /// - `recipient` is not the zero address.
    ///
    /// Emits a {FeeUpdated} event.
    /// @param newFeeBps The fee in basis points of each amount paid to a seller.
    /// @param recipient The account credited with fees, from now on for every trade.
    function setFee(uint16 newFeeBps, address recipient) external;

    /// @notice Sets the price feed that converts invoices in `currency` into `token`; a zero `feed` removes it.
    /// @dev The feed quotes one unit of the currency in the token's unit: EUR / USD for a USD stablecoin (the
    /// admin vouches that the token tracks the feed's quote currency). The token's decimals are read here.
    ///
    /// Requirements:
    /// - the caller is an admin;
    /// - `token` is an ERC-20 with `decimals()`; `feed` is zero or a contract with `decimals()`;
    /// - `maxAge` is at least one minute; `currencyDecimals` at most 4.
    ///
    /// Emits a {PriceFeedUpdated} event.
    /// @param currency ISO 4217 code of the invoice currency.
    /// @param token The settlement token.
    /// @param feed The AggregatorV3Interface feed, or zero.
    /// @param maxAge The oldest round, in seconds, an open accepts.
    /// @param currencyDecimals The currency's ISO 4217 minor unit (2 for EUR and CNY).
    function setPriceFeed(bytes3 currency, address token, address feed, uint32 maxAge, uint8 currencyDecimals)
        external;

    /// @notice Stops new trades. Settlement, disputes and withdrawals continue.
    /// @dev Requirements: the caller is an admin. Emits a {Paused} event.
    function pause() external;

    /// @notice Allows new trades again.
    /// @dev Requirements: the caller is an admin. Emits an {Unpaused} event.
    function unpause() external;

    // ---- views ----
    /// @notice The trace registry that milestones are read from.
    function registry() external view returns (ITraceRegistry);

    /// @notice A trade; `state` is `None` for an id never opened.
    function getTrade(uint256 tradeId) external view returns (Trade memory);

    /// @notice The Incoterms rule, place and invoice of a trade; all zero for a trade that names none.
    function getTerms(uint256 tradeId) external view returns (Terms memory);

    /// @notice The price feed converting `currency` into `token`; `feed` is zero if none.
    function priceFeed(bytes3 currency, address token) external view returns (PriceFeed memory);

    /// @notice What an invoice of `invoiceAmount` (minor units of `currency`) costs in `token` now, and the round.
    /// @dev Reverts as {open} would on a missing feed, a stale round or an invalid rate.
    function quote(bytes3 currency, address token, uint256 invoiceAmount)
        external
        view
        returns (uint256 amount, uint256 rate, uint80 roundId, uint256 updatedAt);

    /// @notice Number of trades opened so far; also the latest trade id.
    function tradeCount() external view returns (uint256);

    /// @notice The balance of `token` that `account` can withdraw.
    function withdrawable(address account, address token) external view returns (uint256);

    /// @notice Whether new trades may use `token`.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice The platform fee, in basis points, that new trades snapshot.
    function feeBps() external view returns (uint16);

    /// @notice The account credited with platform fees.
    function feeRecipient() external view returns (address);
}
