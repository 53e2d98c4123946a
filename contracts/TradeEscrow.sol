// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {ITraceRegistry} from "./interfaces/ITraceRegistry.sol";
import {ITradeEscrow} from "./interfaces/ITradeEscrow.sol";

/// @title TradeEscrow
/// @notice Milestone escrow for cross-border trades of batches recorded in the {ITraceRegistry}.
/// @dev Policies, where the issue left the choice open:
/// - Fee-on-transfer: `open` measures the balance that arrived and reverts unless it is exactly `amount`. The amount
///   in a trade is the agreed price; escrowing less would silently shrink every milestone the seller ships against.
///   Tokens that take a fee on the way out still settle: the escrow debits what it credited, the recipient gets what
///   the token delivers.
/// - Trade-scoped facts: a trade is paid only by its own shipment, the seller's latest to the buyer that the buyer
///   had not completed (received or shipped on) before the opening; so goods returned, or received before the
///   trade, never pay it, and a carrier's arrival before the opening gets a full dispute window from the opening.
///   A batch someone other than the seller shipped to the buyer (a producer's drop shipment) is paid by
///   {confirmReceipt}, not by the registry. Milestones are cumulative: a delivered own shipment pays both.
/// - Recall: once the batch or any ancestor is recalled, {release} pays nothing further. The remainder goes back to
///   the buyer by {refund} (after `deliverBy`, if undelivered) or through a dispute, whose default favours the buyer.
///   Milestones already paid stay paid.
/// - Ruling timeout: the default is the result the trade would have reached without the dispute, read from the
///   registry (see {resolveByTimeout}), not "pay the seller" as in Kleros v2: with that rule a seller who never
///   shipped is paid whenever the arbiter stalls, which rewards the seller for stalling or bribing the arbiter into
///   silence. Here a stalled ruling only delays the outcome the registry facts already determine, so neither side
///   gains by raising a dispute in bad faith or by keeping the arbiter from ruling; and since a carrier-only
///   delivery the buyer disputed inside its window does not count for that default, a carrier colluding with the
///   seller gains nothing from a silent arbiter either.
/// - Fees are charged on amounts paid to the seller only: milestones, confirmations and the seller's share of a
///   ruling. Refunds and the buyer's share of a ruling are fee-free. The rate is snapshotted at open; the recipient
///   credited is the one current at payout.
/// - Pause stops new trades only; settlement, disputes and withdrawals never stop.
/// - Terms: the Incoterms rule and place, and an invoice's currency, amount and rate, live beside the trade record
///   (one slot, two with an invoice) and are written only by trades that name them, so a plain trade pays nothing
///   for them. The rule only sets the default schedule; settlement logic never reads it again. An invoice is
///   converted once, at open, at the feed's latest round; settlement then stays in the token and nothing swaps.
/// - Orders of several lines: each line (batch, share of the price) is opened as its own trade, with consecutive ids,
///   in one call funded by one transfer. A line's milestones are paid by that line's own shipment and delivery
///   facts, and refunds, disputes and rulings work per line through the same per-trade rules; conservation holds
///   per line and so over the order. The lines' terms record their place in the order.
contract TradeEscrow is ITradeEscrow, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Highest platform fee the admin can set, in basis points.
    uint16 public constant MAX_FEE_BPS = 500;
    /// @notice Shortest ruling period a trade may give its arbiter.
    uint32 public constant MIN_RULING_PERIOD = 1 days;
    /// @notice Longest ruling period a trade may give its arbiter.
    uint32 public constant MAX_RULING_PERIOD = 90 days;
    /// @notice Latest `deliverBy` a trade may set, counted from its opening; catches milliseconds given as seconds.
    uint64 public constant MAX_DELIVERY_WINDOW = 730 days;
    /// @notice The shortest time a buyer can be given to dispute a delivery it did not record itself (a carrier's
    /// Arriving). One day: a carrier's word pays the seller only after the buyer had a full day, in every time
    /// zone, to see the arrival in its own records and dispute it; any shorter and a colluding carrier's false
    /// arrival pays before a person or a watcher polling once a day could react. Zero would mean paying on the
    /// carrier's word alone. Buyers who cannot watch over weekends choose more (the CLI and API default to three
    /// days).
    uint32 public constant MIN_DISPUTE_WINDOW = 1 days;
    /// @notice The longest a buyer can be given to dispute a delivery it did not record itself.
    uint32 public constant MAX_DISPUTE_WINDOW = 30 days;

    /// @notice Most lines (batches) one order may have.
    uint256 public constant MAX_LINES = 20;

    uint256 private constant _BPS = 10_000;

    /// @dev A feed's rate as read at open.
    struct Rate {
        uint256 rate;
        uint80 roundId;
        uint256 updatedAt;
        PriceFeed feed;
    }

    /// @dev A trade as stored: five slots, all written by {open} (a sixth would cost every trade 22,100 gas more).
    /// The terms that {getTrade} returns are rebuilt from it: `deliverBy` and `disputedAt` are kept as offsets from
    /// `openedAt`, `deliveredBps` is `10000 - shippedBps`. The bounds that make the narrow types safe are checked
    /// at open: amounts fit in 96 bits, `deliverBy` is at most {MAX_DELIVERY_WINDOW} away, the dispute window and
    /// the ruling period at most 90 days; a dispute more than 136 years after the opening reverts (SafeCast).
    struct TradeRecord {
        // slot 0
        address buyer;
        uint40 openedAt;
        uint32 deliverIn; // deliverBy - openedAt
        uint16 shippedBps;
        State state;
        // slot 1
        address seller;
        uint32 disputedIn; // disputedAt - openedAt + 1, 0 if never disputed
        uint16 feeBps; // platform fee snapshotted at open
        uint24 disputeWindow;
        uint24 rulingPeriod;
        // slot 2
        address arbiter;
        uint96 released; // paid towards the seller so far, fee included
        // slot 3
        address token;
        uint96 amount; // escrowed at open
        // slot 4
        bytes32 batchId;
    }

    /// @inheritdoc ITradeEscrow
    ITraceRegistry public immutable registry;

    mapping(uint256 tradeId => TradeRecord) private _trades;
    mapping(uint256 tradeId => Terms) private _terms;
    mapping(bytes3 currency => mapping(address token => PriceFeed)) private _feeds;
    mapping(address account => mapping(address token => uint256)) private _balances;
    mapping(address token => bool) private _allowedTokens;
    uint256 private _tradeCount;
    address private _feeRecipient;
    uint16 private _feeBps;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE: allowlist, fee, pause.
    /// @param registry_ The trace registry milestones are read from.
    /// @param feeBps_ Initial platform fee, at most {MAX_FEE_BPS}.
    /// @param feeRecipient_ Account credited with fees.
    /// @dev The native coin (address(0)) starts allowlisted; ERC-20s must be allowlisted by the admin.
    constructor(address admin, ITraceRegistry registry_, uint16 feeBps_, address feeRecipient_) {
        if (admin == address(0)) revert EscrowInvalidAddress(admin);
        if (address(registry_).code.length == 0) revert EscrowInvalidAddress(address(registry_));
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setFee(feeBps_, feeRecipient_);
        _allowedTokens[address(0)] = true;
        emit TokenAllowlistUpdated(address(0), true);
    }

    // ---- trades ----

    /// @inheritdoc ITradeEscrow
    function open(OpenParams calldata p) external payable whenNotPaused nonReentrant returns (uint256 tradeId) {
        return _open(p);
    }

    /// @inheritdoc ITradeEscrow
    function openWithPermit(OpenParams calldata p, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        whenNotPaused
        nonReentrant
        returns (uint256 tradeId)
    {
        if (p.token == address(0)) revert EscrowInvalidToken(address(0));
        // A failed permit is not fatal: someone may have submitted the same signature first. The transfer in
        // _open is the real check of the allowance.
        try IERC20Permit(p.token).permit(msg.sender, address(this), value, deadline, v, r, s) {} catch {}
        return _open(p);
    }

    /// @inheritdoc ITradeEscrow
    function release(uint256 tradeId) external nonReentrant returns (uint256 amount) {
        TradeRecord storage t = _openTrade(tradeId);
        (ITraceRegistry.Shipment memory sh, bool recalled) = registry.latestShipment(t.batchId, t.buyer);
        if (recalled) return 0;

        bool own = _isOwn(t, sh);
        amount = _payShippedDue(tradeId, t, own);
        // A schedule of 100% on shipment is fully paid there, before delivery.
        if (_remainder(t) == 0) t.state = State.Closed;
        if (own && _deliveryFinal(t, sh)) {
            uint256 rest = _remainder(t);
            if (rest != 0) {
                amount += rest;
                uint256 fee = _paySeller(t, rest);
                t.state = State.Closed;
                emit MilestoneReleased(tradeId, Milestone.Delivered, rest, fee);
            }
        }
    }

    /// @inheritdoc ITradeEscrow
    function confirmReceipt(uint256 tradeId) external nonReentrant {
        TradeRecord storage t = _trade(tradeId);
        if (msg.sender != t.buyer) revert EscrowNotBuyer(tradeId, msg.sender);
        if (t.state == State.Closed) revert EscrowTradeClosed(tradeId);

        uint256 rest = _remainder(t);
        t.state = State.Closed;
        uint256 fee = _paySeller(t, rest);
        emit ReceiptConfirmed(tradeId, msg.sender, rest, fee);
    }

    /// @inheritdoc ITradeEscrow
    function refund(uint256 tradeId) external nonReentrant {
        TradeRecord storage t = _openTrade(tradeId);
        uint64 deliverBy = _deliverBy(t);
        if (block.timestamp <= deliverBy) revert EscrowDeliveryDeadlineNotPassed(tradeId, deliverBy);
        address buyer = t.buyer;
        (ITraceRegistry.Shipment memory sh, bool recalled) = registry.latestShipment(t.batchId, buyer);
        bool own = _isOwn(t, sh);
        if (own && sh.deliveredAt != 0) revert EscrowAlreadyDelivered(tradeId, sh.deliveredAt);

        // What release would pay first: the Shipped milestone, if the seller earned it and the goods are not
        // recalled. Refund returns only what no milestone earned, whichever of the two is called first.
        if (!recalled) _payShippedDue(tradeId, t, own);
        uint256 rest = _remainder(t);
        t.state = State.Closed;
        _balances[buyer][t.token] += rest;
        emit TradeRefunded(tradeId, buyer, rest);
    }

    /// @inheritdoc ITradeEscrow
    function dispute(uint256 tradeId, bytes32 evidenceHash) external nonReentrant {
        TradeRecord storage t = _trade(tradeId);
        _checkParty(t, tradeId);
        if (t.state != State.Open) revert EscrowTradeNotOpen(tradeId, t.state);

        t.state = State.Disputed;
        t.disputedIn = SafeCast.toUint32(block.timestamp - t.openedAt + 1);
        emit DisputeOpened(tradeId, msg.sender, evidenceHash, _rulingDeadline(t));
    }

    /// @inheritdoc ITradeEscrow
    function addEvidence(uint256 tradeId, bytes32 evidenceHash) external {
        TradeRecord storage t = _trade(tradeId);
        _checkParty(t, tradeId);
        if (t.state == State.Closed) revert EscrowTradeClosed(tradeId);
        emit EvidenceAdded(tradeId, msg.sender, evidenceHash);
    }

    /// @inheritdoc ITradeEscrow
    function resolve(uint256 tradeId, uint16 sellerBps) external nonReentrant {
        TradeRecord storage t = _trade(tradeId);
        if (msg.sender != t.arbiter) revert EscrowNotArbiter(tradeId, msg.sender);
        if (t.state != State.Disputed) revert EscrowTradeNotDisputed(tradeId, t.state);
        uint64 deadline = _rulingDeadline(t);
        if (block.timestamp > deadline) revert EscrowRulingDeadlinePassed(tradeId, deadline);
        if (sellerBps > _BPS) revert EscrowInvalidBps(sellerBps);

        uint256 rest = _remainder(t);
        uint256 toSeller = rest * sellerBps / _BPS;
        _settleDispute(tradeId, t, toSeller, rest - toSeller, false);
    }

    /// @inheritdoc ITradeEscrow
    function resolveByTimeout(uint256 tradeId) external nonReentrant {
        TradeRecord storage t = _trade(tradeId);
        if (t.state != State.Disputed) revert EscrowTradeNotDisputed(tradeId, t.state);
        uint64 deadline = _rulingDeadline(t);
        if (block.timestamp <= deadline) revert EscrowRulingDeadlineNotPassed(tradeId, deadline);

        uint256 rest = _remainder(t);
        uint256 toSeller = _defaultSellerShare(tradeId, t, rest);
        _settleDispute(tradeId, t, toSeller, rest - toSeller, true);
    }

    // ---- payouts ----

    /// @inheritdoc ITradeEscrow
    function withdraw(address token) external nonReentrant {
        _withdraw(token, msg.sender);
    }

    /// @inheritdoc ITradeEscrow
    function withdrawTo(address token, address to) external nonReentrant {
        if (to == address(0)) revert EscrowInvalidRecipient(to);
        _withdraw(token, to);
    }

    // ---- admin ----

    /// @inheritdoc ITradeEscrow
    function setTokenAllowed(address token, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token != address(0) && token.code.length == 0) revert EscrowInvalidToken(token);
        _allowedTokens[token] = allowed;
        emit TokenAllowlistUpdated(token, allowed);
    }

    /// @inheritdoc ITradeEscrow
    function setFee(uint16 newFeeBps, address recipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFee(newFeeBps, recipient);
    }

    /// @inheritdoc ITradeEscrow
    function setPriceFeed(bytes3 currency, address token, address feed, uint32 maxAge, uint8 currencyDecimals)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (token == address(0) || token.code.length == 0) revert EscrowInvalidToken(token);
        if (feed == address(0)) {
            delete _feeds[currency][token];
        } else {
            if (feed.code.length == 0 || maxAge < 1 minutes || currencyDecimals > 4) {
                revert EscrowInvalidPriceFeed(feed);
            }
            uint8 feedDecimals = AggregatorV3Interface(feed).decimals();
            uint8 tokenDecimals = IERC20Metadata(token).decimals();
            if (feedDecimals > 18 || tokenDecimals > 18) revert EscrowInvalidPriceFeed(feed);
            _feeds[currency][token] = PriceFeed(feed, maxAge, feedDecimals, tokenDecimals, currencyDecimals);
        }
        emit PriceFeedUpdated(currency, token, feed, maxAge);
    }

    /// @inheritdoc ITradeEscrow
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @inheritdoc ITradeEscrow
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ---- views ----

    /// @inheritdoc ITradeEscrow
    function getTrade(uint256 tradeId) external view returns (Trade memory v) {
        TradeRecord storage t = _trades[tradeId];
        if (t.state == State.None) return v;
        v.buyer = t.buyer;
        v.deliverBy = _deliverBy(t);
        v.shippedBps = t.shippedBps;
        v.deliveredBps = uint16(_BPS - t.shippedBps);
        v.seller = t.seller;
        v.openedAt = t.openedAt;
        v.feeBps = t.feeBps;
        v.state = t.state;
        v.disputeWindow = t.disputeWindow;
        v.arbiter = t.arbiter;
        v.disputedAt = _disputedAt(t);
        v.rulingPeriod = t.rulingPeriod;
        v.token = t.token;
        v.batchId = t.batchId;
        v.amount = t.amount;
        v.released = t.released;
    }

    /// @inheritdoc ITradeEscrow
    function getTerms(uint256 tradeId) external view returns (Terms memory) {
        return _terms[tradeId];
    }

    /// @inheritdoc ITradeEscrow
    function priceFeed(bytes3 currency, address token) external view returns (PriceFeed memory) {
        return _feeds[currency][token];
    }

    /// @inheritdoc ITradeEscrow
    function quote(bytes3 currency, address token, uint256 invoiceAmount)
        external
        view
        returns (uint256 amount, uint256 rate, uint80 roundId, uint256 updatedAt)
    {
        PriceFeed memory f = _feeds[currency][token];
        (rate, roundId, updatedAt) = _latestRate(currency, token, f);
        amount = _convert(invoiceAmount, rate, f);
    }

    /// @inheritdoc ITradeEscrow
    function tradeCount() external view returns (uint256) {
        return _tradeCount;
    }

    /// @inheritdoc ITradeEscrow
    function withdrawable(address account, address token) external view returns (uint256) {
        return _balances[account][token];
    }

    /// @inheritdoc ITradeEscrow
    function isTokenAllowed(address token) external view returns (bool) {
        return _allowedTokens[token];
    }

    /// @inheritdoc ITradeEscrow
    function feeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc ITradeEscrow
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @notice ERC-165: AccessControl's interfaces and {ITradeEscrow}.
    /// @param interfaceId The interface identifier.
    /// @return True if the contract implements `interfaceId`.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ITradeEscrow).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---- internals ----

    function _open(OpenParams calldata p) private returns (uint256 tradeId) {
        _checkParams(p);
        (uint16 shippedBps, uint16 deliveredBps) = (p.shippedBps, p.deliveredBps);
        if (shippedBps == 0 && deliveredBps == 0) {
            shippedBps = _defaultShippedBps(p.incoterm);
        } else if (uint256(shippedBps) + deliveredBps != _BPS) {
            revert EscrowInvalidSchedule(shippedBps, deliveredBps);
        }
        Rate memory r = _rateFor(p);
        if (p.lines.length == 0) return _openOne(p, r, shippedBps);
        (bytes32[] memory batches, uint256[] memory amounts, uint256[] memory invoiced) = _lines(p, r);

        // Pull before recording: the trade must hold what actually arrived, which only the balance delta tells.
        // nonReentrant on the callers covers tokens with transfer hooks.
        uint256 total;
        for (uint256 i; i < amounts.length; ++i) {
            total += amounts[i];
        }
        _collect(p.token, total);

        // Cannot overflow: at most MAX_LINES trades per transaction.
        unchecked {
            tradeId = _tradeCount + 1;
            _tradeCount += amounts.length;
        }
        // Every line records its terms: at least its place in the order.
        for (uint256 i; i < amounts.length; ++i) {
            uint256 id = tradeId + i;
            _create(id, p, batches[i], amounts[i], shippedBps);
            _recordTerms(id, p, r, invoiced[i], i, amounts.length);
        }
    }

    /// @dev {_open} for one batch, without the arrays an order needs: most trades take this path.
    function _openOne(OpenParams calldata p, Rate memory r, uint16 shippedBps) private returns (uint256 tradeId) {
        bool fx = r.rate != 0;
        uint256 amount = fx ? _convert(p.invoice.amount, r.rate, r.feed) : p.amount;
        _checkLine(p.batchId, amount);
        // Pull before recording, as in {_open}.
        _collect(p.token, amount);
        // Cannot overflow: one trade per transaction.
        unchecked {
            tradeId = ++_tradeCount;
        }
        _create(tradeId, p, p.batchId, amount, shippedBps);
        if (fx || p.incoterm != Incoterm.None) _recordTerms(tradeId, p, r, fx ? p.invoice.amount : 0, 0, 1);
    }

    /// @dev A line's amount fits, and its batch exists and is not recalled.
    function _checkLine(bytes32 batchId, uint256 amount) private view {
        if (amount == 0 || amount > type(uint96).max) revert EscrowInvalidAmount(amount);
        if (!registry.exists(batchId)) revert EscrowUnknownBatch(batchId);
        if (registry.isRecalled(batchId)) revert EscrowBatchRecalled(batchId);
    }

    /// @dev Everything about the parties, times and place that needs no registry or feed.
    function _checkParams(OpenParams calldata p) private view {
        if (!_allowedTokens[p.token]) revert EscrowTokenNotAllowed(p.token);
        if (p.seller == address(0) || p.seller == msg.sender) revert EscrowInvalidSeller(p.seller);
        if (p.arbiter == address(0) || p.arbiter == msg.sender || p.arbiter == p.seller) {
            revert EscrowInvalidArbiter(p.arbiter);
        }
        if (p.deliverBy <= block.timestamp || p.deliverBy > block.timestamp + MAX_DELIVERY_WINDOW) {
            revert EscrowInvalidDeadline(p.deliverBy, block.timestamp);
        }
        if (p.rulingPeriod < MIN_RULING_PERIOD || p.rulingPeriod > MAX_RULING_PERIOD) {
            revert EscrowInvalidRulingPeriod(p.rulingPeriod);
        }
        if (p.disputeWindow < MIN_DISPUTE_WINDOW || p.disputeWindow > MAX_DISPUTE_WINDOW) {
            revert EscrowInvalidDisputeWindow(p.disputeWindow);
        }
        bytes5 place = p.place;
        if (p.incoterm == Incoterm.None ? place != bytes5(0) : !_isLocode(place)) revert EscrowInvalidPlace(place);
    }

    /// @dev The batch, token amount and invoice amount of each line of an order: 2 to {MAX_LINES} lines, adding up
    /// to `p.amount` (or the invoice's amount). Each invoiced line is converted on its own, rounded down, so the
    /// lines' token amounts are what is escrowed.
    function _lines(OpenParams calldata p, Rate memory r)
        private
        view
        returns (bytes32[] memory batches, uint256[] memory amounts, uint256[] memory invoiced)
    {
        bool fx = r.rate != 0;
        uint256 n = p.lines.length;
        if (n < 2 || n > MAX_LINES || p.batchId != bytes32(0)) revert EscrowInvalidLines(n, p.batchId);
        (batches, amounts, invoiced) = (new bytes32[](n), new uint256[](n), new uint256[](n));
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            uint256 share = p.lines[i].amount;
            if (share > type(uint96).max) revert EscrowInvalidAmount(share);
            sum += share;
            (batches[i], invoiced[i]) = (p.lines[i].batchId, fx ? share : 0);
            amounts[i] = fx ? _convert(share, r.rate, r.feed) : share;
            _checkLine(batches[i], amounts[i]);
        }
        uint256 expected = fx ? p.invoice.amount : p.amount;
        if (sum != expected) revert EscrowLinesMismatch(sum, expected);
    }

    /// @dev Writes trade `tradeId`, one line of the order, and emits its {TradeOpened}.
    function _create(uint256 tradeId, OpenParams calldata p, bytes32 batchId, uint256 amount, uint16 shippedBps)
        private
    {
        TradeRecord storage t = _trades[tradeId];
        uint16 fee = _feeBps;
        // One struct literal per slot, so that each slot is written once.
        (t.buyer, t.openedAt, t.deliverIn, t.shippedBps, t.state) =
            (msg.sender, uint40(block.timestamp), uint32(p.deliverBy - block.timestamp), shippedBps, State.Open);
        (t.seller, t.feeBps, t.disputeWindow, t.rulingPeriod) =
            (p.seller, fee, uint24(p.disputeWindow), uint24(p.rulingPeriod));
        t.arbiter = p.arbiter;
        (t.token, t.amount) = (p.token, uint96(amount));
        t.batchId = batchId;
        _emitOpened(tradeId, p, shippedBps, fee);
    }

    /// @dev The feed's rate for an invoiced trade, checked against the buyer's quote; all zero without an invoice.
    function _rateFor(OpenParams calldata p) private view returns (Rate memory r) {
        bytes3 currency = p.invoice.currency;
        if (currency == bytes3(0)) return r;
        if (p.amount != 0) revert EscrowInvalidAmount(p.amount);
        uint256 invoiced = p.invoice.amount;
        if (invoiced == 0 || invoiced > type(uint96).max) revert EscrowInvalidInvoice(invoiced, currency);
        r.feed = _feeds[currency][p.token];
        (r.rate, r.roundId, r.updatedAt) = _latestRate(currency, p.token, r.feed);
        uint256 quoted = p.invoice.quotedRate;
        uint256 moved = r.rate > quoted ? r.rate - quoted : quoted - r.rate;
        // A zero quote never matches: the buyer always states the rate it agreed to.
        if (quoted == 0 || moved * _BPS > quoted * p.invoice.maxSlippageBps) {
            revert EscrowRateSlipped(quoted, r.rate, p.invoice.maxSlippageBps);
        }
    }

    /// @dev Stores and announces trade `tradeId`'s terms: rule, place, its line of the invoice and the rate, and its
    /// place `line` (0-based) among the `lineCount` lines of one order.
    function _recordTerms(
        uint256 tradeId,
        OpenParams calldata p,
        Rate memory r,
        uint256 invoiced,
        uint256 line,
        uint256 lineCount
    ) private {
        bool fx = r.rate != 0;
        // Cannot truncate: the rate was checked to fit in 128 bits, invoices in 96, lines are at most MAX_LINES,
        // and the round time is a past block time.
        Terms memory x = Terms(
            p.incoterm,
            p.place,
            fx ? p.invoice.currency : bytes3(0),
            fx ? r.feed.feedDecimals : 0,
            uint40(r.updatedAt),
            uint96(invoiced),
            uint16(lineCount == 1 ? 0 : line + 1),
            uint16(lineCount == 1 ? 0 : lineCount),
            uint128(r.rate),
            r.roundId
        );
        _terms[tradeId] = x;
        emit TradeTermsRecorded(tradeId, x);
    }

    /// @dev The feed's latest rate for `currency` in `token`, checked for presence, sign, size and age.
    function _latestRate(bytes3 currency, address token, PriceFeed memory f)
        private
        view
        returns (uint256 rate, uint80 roundId, uint256 updatedAt)
    {
        if (f.feed == address(0)) revert EscrowNoPriceFeed(currency, token);
        int256 answer;
        (roundId, answer,, updatedAt,) = AggregatorV3Interface(f.feed).latestRoundData();
        if (answer <= 0 || uint256(answer) > type(uint128).max) revert EscrowInvalidRate(answer);
        // A round stamped in the future is as untrustworthy as an old one.
        if (updatedAt == 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > f.maxAge) {
            revert EscrowStaleRate(currency, roundId, updatedAt, f.maxAge);
        }
        rate = uint256(answer);
    }

    /// @dev `invoiced` minor units of the currency in the token's smallest unit at `rate`, rounded down.
    function _convert(uint256 invoiced, uint256 rate, PriceFeed memory f) private pure returns (uint256) {
        // Cannot overflow: invoice < 2^96, rate < 2^128, 10^18 < 2^60.
        return invoiced * rate * 10 ** f.tokenDecimals / 10 ** (uint256(f.feedDecimals) + f.currencyDecimals);
    }

    /// @dev The share paid on shipment by default: all of it where risk passes to the buyer at the seller's
    /// premises or at the hand-over to the carrier (EXW, F and C rules); none where it passes at destination (D
    /// rules), or without a rule.
    function _defaultShippedBps(Incoterm rule) private pure returns (uint16) {
        if (rule == Incoterm.None || rule == Incoterm.DAP || rule == Incoterm.DPU || rule == Incoterm.DDP) return 0;
        return uint16(_BPS);
    }

    /// @dev The shape of a UN/LOCODE: an ISO 3166 alpha-2 country code (two capitals), then three capitals or
    /// digits 2-9. Whether the code is assigned, and whether it is a port, is checked off-chain.
    function _isLocode(bytes5 place) private pure returns (bool) {
        for (uint256 i; i < 5; ++i) {
            bytes1 c = place[i];
            bool letter = c >= "A" && c <= "Z";
            if (!(letter || (i >= 2 && c >= "2" && c <= "9"))) return false;
        }
        return true;
    }


    /// @dev The trade's terms, from the call rather than read back from storage; separate so that {_open} stays
    /// within the stack.
    function _emitOpened(uint256 tradeId, OpenParams calldata p, uint16 shippedBps, uint16 fee) private {
        emit TradeOpened(
            tradeId,
            msg.sender,
            p.seller,
            _trades[tradeId].batchId, // warm, as the amount: a line's own batch and amount
            p.token,
            _trades[tradeId].amount, // warm: {_open} just wrote it; may differ from `p.amount` with an invoice
            p.arbiter,
            p.deliverBy,
            p.rulingPeriod,
            shippedBps,
            uint16(_BPS - shippedBps),
            fee,
            p.disputeWindow
        );
    }

    /// @dev Takes `amount` of `token` from the caller. The native coin must come as the exact `msg.value`.
    function _collect(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert EscrowNativeValueMismatch(msg.value, amount);
            return;
        }
        if (msg.value != 0) revert EscrowNativeValueMismatch(msg.value, 0);
        IERC20 erc20 = IERC20(token);
        uint256 before = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = erc20.balanceOf(address(this)) - before;
        if (received != amount) revert EscrowTransferAmountMismatch(token, amount, received);
    }

    /// @dev Credits `gross` towards the seller: the fee to the fee recipient, the rest to the seller.
    function _paySeller(TradeRecord storage t, uint256 gross) private returns (uint256 fee) {
        if (gross == 0) return 0;
        fee = gross * t.feeBps / _BPS;
        address token = t.token;
        // Cannot overflow: `released + gross <= amount`, and `amount` fits in uint128.
        unchecked {
            t.released += uint96(gross);
        }
        _balances[t.seller][token] += gross - fee;
        if (fee != 0) _balances[_feeRecipient][token] += fee;
    }

    function _settleDispute(uint256 tradeId, TradeRecord storage t, uint256 toSeller, uint256 toBuyer, bool byTimeout)
        private
    {
        t.state = State.Closed;
        uint256 fee = _paySeller(t, toSeller);
        if (toBuyer != 0) _balances[t.buyer][t.token] += toBuyer;
        emit DisputeResolved(tradeId, msg.sender, toSeller, toBuyer, fee, byTimeout);
    }

    /// @dev The default ruling: what release and refund would have paid had there been no dispute, with the
    /// dispute itself standing for the buyer's objection to a carrier's delivery it raised inside the window.
    function _defaultSellerShare(uint256 tradeId, TradeRecord storage t, uint256 rest) private view returns (uint256) {
        (ITraceRegistry.Shipment memory sh, bool recalled) = registry.latestShipment(t.batchId, t.buyer);
        // Recalled goods are not paid for: release would pay nothing more, so the buyer gets the rest.
        if (recalled) return 0;
        bool own = _isOwn(t, sh);
        if (own && sh.deliveredAt != 0) {
            // The buyer's own receipt, or a carrier's delivery whose window had closed before the dispute: the
            // buyer holds the goods, and release would pay the seller everything.
            if (sh.received || _disputedAt(t) >= _windowEnd(t, sh)) return rest;
            // A carrier's delivery disputed inside its window (or after the dispute) counts as not delivered: a
            // carrier's word alone never outweighs the buyer's timely dispute.
        }
        // Neither delivered nor late yet: the facts are not in.
        uint64 deliverBy = _deliverBy(t);
        if (block.timestamp <= deliverBy) revert EscrowOutcomePending(tradeId, deliverBy);
        // Undelivered past the deadline: refund would pay a Shipped milestone earned by shipping, and return the
        // rest.
        return _shippedDue(t, own);
    }

    /// @dev True if `sh`, the latest shipment of the trade's batch to its buyer, belongs to this trade: it is the
    /// seller's, and it was not completed before the trade opened. Completed means received by the buyer itself,
    /// or handed on by the buyer (shipped on, e.g. returned); a carrier's delivery to a buyer that still holds the
    /// goods is not completed, so a shipment already under way, or even delivered by a carrier, when the trade
    /// opens still counts, with its dispute window starting at the opening (see {_windowEnd}).
    function _isOwn(TradeRecord storage t, ITraceRegistry.Shipment memory sh) private view returns (bool) {
        if (sh.shipper != t.seller) return false;
        uint256 openedAt = t.openedAt;
        if (sh.received && sh.deliveredAt < openedAt) return false;
        return sh.handedOnAt == 0 || sh.handedOnAt >= openedAt;
    }

    /// @dev When the buyer's time to dispute a carrier's delivery ends: `disputeWindow` after the delivery, or after
    /// the opening if the carrier delivered before it.
    function _windowEnd(TradeRecord storage t, ITraceRegistry.Shipment memory sh) private view returns (uint256) {
        uint256 start = sh.deliveredAt;
        uint256 openedAt = t.openedAt;
        return (start > openedAt ? start : openedAt) + t.disputeWindow;
    }

    /// @dev True once the Delivered milestone's condition holds for the trade's own shipment `sh`: the buyer
    /// recorded receipt itself, or a carrier's delivery has passed its dispute window. Any own delivery still bars
    /// {refund} at once.
    function _deliveryFinal(TradeRecord storage t, ITraceRegistry.Shipment memory sh) private view returns (bool) {
        if (sh.deliveredAt == 0) return false;
        return sh.received || block.timestamp >= _windowEnd(t, sh);
    }

    /// @dev The unpaid part of the Shipped milestone if the trade has its own shipment (`own`): shipped by the
    /// seller to the buyer, in transit or delivered. A shipment to anyone else, or by anyone else, earns nothing.
    function _shippedDue(TradeRecord storage t, bool own) private view returns (uint256) {
        if (!own) return 0;
        uint256 shippedShare = _shippedShare(t);
        uint256 released = t.released;
        return released >= shippedShare ? 0 : shippedShare - released;
    }

    /// @dev Pays the Shipped milestone's due part, if any, to the seller and says so.
    function _payShippedDue(uint256 tradeId, TradeRecord storage t, bool own) private returns (uint256 due) {
        due = _shippedDue(t, own);
        if (due != 0) {
            uint256 fee = _paySeller(t, due);
            emit MilestoneReleased(tradeId, Milestone.Shipped, due, fee);
        }
    }

    function _withdraw(address token, address to) private {
        uint256 amount = _balances[msg.sender][token];
        if (amount == 0) revert EscrowNothingToWithdraw(msg.sender, token);
        // Zero the balance and emit before paying: the receiver's code runs during the transfer.
        _balances[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, to, amount);
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert EscrowNativeTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function _setFee(uint16 newFeeBps, address recipient) private {
        if (newFeeBps > MAX_FEE_BPS) revert EscrowFeeTooHigh(newFeeBps, MAX_FEE_BPS);
        if (recipient == address(0)) revert EscrowInvalidFeeRecipient(recipient);
        _feeBps = newFeeBps;
        _feeRecipient = recipient;
        emit FeeUpdated(newFeeBps, recipient);
    }

    function _trade(uint256 tradeId) private view returns (TradeRecord storage t) {
        t = _trades[tradeId];
        if (t.state == State.None) revert EscrowUnknownTrade(tradeId);
    }

    function _openTrade(uint256 tradeId) private view returns (TradeRecord storage t) {
        t = _trade(tradeId);
        if (t.state != State.Open) revert EscrowTradeNotOpen(tradeId, t.state);
    }

    function _checkParty(TradeRecord storage t, uint256 tradeId) private view {
        if (msg.sender != t.buyer && msg.sender != t.seller) revert EscrowNotParty(tradeId, msg.sender);
    }

    /// @dev The Shipped milestone; rounding goes to the Delivered one, so the two always sum to `amount`.
    function _shippedShare(TradeRecord storage t) private view returns (uint256) {
        return uint256(t.amount) * t.shippedBps / _BPS;
    }

    function _remainder(TradeRecord storage t) private view returns (uint256) {
        // Cannot underflow: `released` only grows by parts of the remainder.
        unchecked {
            return uint256(t.amount) - t.released;
        }
    }

    function _rulingDeadline(TradeRecord storage t) private view returns (uint64) {
        return _disputedAt(t) + t.rulingPeriod;
    }

    function _deliverBy(TradeRecord storage t) private view returns (uint64) {
        return uint64(t.openedAt) + t.deliverIn;
    }

    function _disputedAt(TradeRecord storage t) private view returns (uint64) {
        uint32 disputedIn = t.disputedIn;
        return disputedIn == 0 ? 0 : uint64(t.openedAt) + disputedIn - 1;
    }
}
