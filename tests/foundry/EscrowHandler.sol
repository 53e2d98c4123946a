// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITraceRegistry} from "../../contracts/interfaces/ITraceRegistry.sol";
import {ITradeEscrow} from "../../contracts/interfaces/ITradeEscrow.sol";
import {TraceRegistry} from "../../contracts/TraceRegistry.sol";
import {TradeEscrow} from "../../contracts/TradeEscrow.sol";
import {EscrowTestToken} from "../../contracts/test/EscrowTestToken.sol";
import {VM} from "./Vm.sol";

/// @title EscrowHandler
/// @notice The actions of the escrow invariant suite, run by forge in random sequences against the real
/// {TraceRegistry} and {TradeEscrow}. Each action acts as one of the parties (vm.prank), one second after the
/// previous one, and predicts the outcome of every escrow call from ghost facts it keeps itself: the trades it
/// opened, and per batch and consignee the latest shipment as the handler recorded it (never read back from the
/// registry). A call that pays other than predicted, or reverts where it should not, reverts the handler, which
/// fails the run (`fail_on_revert`).
/// @dev The "own fact" rule the predictions encode (issue 11): a trade is paid only by the latest shipment of its
/// batch to its buyer, if the seller sent it and the buyer had not completed it (received it itself, or shipped the
/// batch on) before the trade opened. Shipped pays on that shipment; Delivered on the buyer's own receipt of it, or
/// on a carrier's arrival once `disputeWindow` has passed since max(arrival, opening).
contract EscrowHandler {
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_BATCHES = 4;
    uint16 private constant _FEE_BPS = 250;

    TraceRegistry public immutable registry;
    TradeEscrow public immutable escrow;
    EscrowTestToken public immutable usdc;

    address[3] public traders = [address(0x1001), address(0x1002), address(0x1003)];
    address public constant CARRIER = address(0x2001);
    address public constant ARBITER = address(0x3001);
    address public constant STRANGER = address(0x4001);
    address[2] public treasuries = [address(0x5001), address(0x5002)];

    struct TradeGhost {
        uint256 id;
        address buyer;
        address seller;
        address token;
        bytes32 batch;
        uint256 amount;
        uint256 shippedShare;
        uint64 openedAt;
        uint64 deliverBy;
        uint32 disputeWindow;
        uint32 rulingPeriod;
        uint16 feeBps;
        uint64 disputedAt;
        ITradeEscrow.State state; // the last state seen on chain
        uint256 released; // the last `released` seen on chain
    }

    struct BatchGhost {
        address producer;
        address custodian;
        address consignee; // while in transit
        bool recalled;
    }

    uint64 public clock;
    bytes32[] public batches;
    mapping(bytes32 batch => BatchGhost) public batchGhost;
    /// @notice The latest shipment of a batch to a consignee, as the handler recorded it.
    mapping(bytes32 batch => mapping(address consignee => Ghost.Shipment)) public shipments;
    TradeGhost[] internal _trades;
    /// @notice What each account can withdraw, per token, as the handler credited it.
    mapping(address account => mapping(address token => uint256)) public credited;
    address public feeRecipient;
    uint16 public feeBps = _FEE_BPS;

    constructor() {
        clock = uint64(block.timestamp);
        registry = new TraceRegistry(address(this));
        escrow = new TradeEscrow(address(this), registry, _FEE_BPS, treasuries[0]);
        feeRecipient = treasuries[0];
        usdc = new EscrowTestToken("Fuzz USD", "fUSD", 6);
        escrow.setTokenAllowed(address(usdc), true);
        for (uint256 i; i < traders.length; ++i) {
            registry.grantRole(registry.PRODUCER_ROLE(), traders[i]);
        }
        registry.grantRole(registry.CARRIER_ROLE(), CARRIER);
        // Two batches to start with, so that sequences get to the trades sooner; registerBatch adds up to four.
        _register(traders[0]);
        _register(traders[1]);
    }

    /// @dev Every action runs one second after the previous one, as blocks do, so that "before the opening" is
    /// decided by time on chain exactly as by order here. Around it, the states are checked to move forward only.
    modifier step() {
        clock += 1;
        VM.warp(clock);
        (uint8[] memory states, uint256[] memory released) = _snapshot();
        _;
        _checkMonotone(states, released);
    }

    // ------------------------------------------------------------ registry facts

    function registerBatch(uint256 who) external step {
        if (batches.length < _MAX_BATCHES) _register(traders[who % traders.length]);
    }

    /// @notice The custodian of a batch ships it: to a trader or to the stranger (never itself).
    function ship(uint256 batchSeed, uint256 toSeed) external step {
        if (batches.length == 0) return;
        bytes32 id = batches[batchSeed % batches.length];
        address to = toSeed % 4 == 3 ? STRANGER : traders[toSeed % 3];
        _ship(id, to);
    }

    /// @notice A trade's seller ships its batch to the buyer, when it holds the batch.
    function shipToBuyer(uint256 tradeSeed) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Open);
        if (batchGhost[t.batch].custodian == t.seller) _ship(t.batch, t.buyer);
    }

    /// @notice A trade's buyer, holding the batch, ships it on: back to the seller (a return), or to someone else.
    function handOn(uint256 tradeSeed, uint256 toSeed) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.None);
        if (batchGhost[t.batch].custodian != t.buyer) return;
        address to = toSeed % 2 == 0 ? t.seller : (toSeed % 4 == 1 ? STRANGER : _other(t.buyer, t.seller));
        _ship(t.batch, to);
    }

    /// @notice The consignee of a batch in transit records its own receipt.
    function receive_(uint256 batchSeed) external step {
        _deliver(batchSeed, true);
    }

    /// @notice A carrier records the arrival of a batch in transit at its consignee.
    function arrive(uint256 batchSeed) external step {
        _deliver(batchSeed, false);
    }

    /// @notice The producer recalls a batch: one call in 32, recalls being permanent. The flag is hashed so that
    /// the fuzzer's favourite values (0, 1, ...) do not recall in every sequence.
    function recall(uint256 batchSeed, uint256 flag) external step {
        if (batches.length == 0 || uint256(keccak256(abi.encode(flag))) % 32 != 0) return;
        bytes32 id = batches[batchSeed % batches.length];
        BatchGhost storage b = batchGhost[id];
        if (b.recalled) return;
        VM.prank(b.producer);
        registry.recall(id, bytes32("fuzz"));
        b.recalled = true;
    }

    // ------------------------------------------------------------ escrow

    /// @notice A trader opens a trade for a batch, mostly with the batch's holder as the seller.
    function open(
        uint256 buyerSeed,
        uint256 batchSeed,
        uint256 amountSeed,
        uint256 termsSeed,
        uint64 windowSeed,
        bool native
    ) external step {
        if (batches.length == 0) return;
        bytes32 id = batches[batchSeed % batches.length];
        address buyer = traders[buyerSeed % traders.length];
        address holder = batchGhost[id].custodian;
        address seller = _seller(buyer, holder, shipments[id][buyer].shipper, termsSeed);
        uint256 amount = amountSeed % 2 == 0 ? 1 + amountSeed % 1000 : 1 + amountSeed % 1e15;
        ITradeEscrow.OpenParams memory p = _terms(seller, native ? address(0) : address(usdc), id, amount, termsSeed);
        p.deliverBy = clock + 1 + windowSeed % 20 days;
        if (native) {
            VM.deal(buyer, amount);
        } else {
            usdc.mint(buyer, amount);
            VM.prank(buyer);
            usdc.approve(address(escrow), amount);
        }
        VM.prank(buyer);
        try escrow.open{value: native ? amount : 0}(p) returns (uint256 tradeId) {
            require(!batchGhost[id].recalled, "open: a recalled batch was accepted");
            require(tradeId == _trades.length + 1, "open: trade ids are not sequential");
            _trades.push(
                TradeGhost({
                    id: tradeId,
                    buyer: buyer,
                    seller: seller,
                    token: p.token,
                    batch: id,
                    amount: amount,
                    shippedShare: amount * p.shippedBps / _BPS,
                    openedAt: clock,
                    deliverBy: p.deliverBy,
                    disputeWindow: p.disputeWindow,
                    rulingPeriod: p.rulingPeriod,
                    feeBps: feeBps,
                    disputedAt: 0,
                    state: ITradeEscrow.State.Open,
                    released: 0
                })
            );
        } catch (bytes memory err) {
            _expect(err, ITradeEscrow.EscrowBatchRecalled.selector, batchGhost[id].recalled, "open");
        }
    }

    /// @notice A trader opens an order of two lines (two batches), funded by one transfer: each line becomes its
    /// own trade, which every other action then settles on its own.
    function openOrder(uint256 buyerSeed, uint256 batchSeed, uint256 amountSeed, uint256 termsSeed, uint64 windowSeed)
        external
        step
    {
        if (batches.length < 2) return;
        uint256 n = batches.length;
        uint256 first = batchSeed % n;
        // Two distinct batches: the second is 1 to n - 1 places after the first.
        bytes32[2] memory ids = [batches[first], batches[(first + 1 + (batchSeed / n) % (n - 1)) % n]];
        address buyer = traders[buyerSeed % traders.length];
        address seller = _seller(buyer, batchGhost[ids[0]].custodian, shipments[ids[0]][buyer].shipper, termsSeed);
        if (seller == buyer) return;
        uint256[2] memory amounts = [1 + amountSeed % 1e12, 1 + (amountSeed / 1e12) % 1e12];
        ITradeEscrow.OpenParams memory p =
            _terms(seller, address(usdc), bytes32(0), amounts[0] + amounts[1], termsSeed);
        p.deliverBy = clock + 1 + windowSeed % 20 days;
        p.lines = new ITradeEscrow.Line[](2);
        for (uint256 i; i < 2; ++i) {
            p.lines[i] = ITradeEscrow.Line(ids[i], amounts[i]);
        }
        usdc.mint(buyer, p.amount);
        VM.prank(buyer);
        usdc.approve(address(escrow), p.amount);
        bool recalled = batchGhost[ids[0]].recalled || batchGhost[ids[1]].recalled;
        VM.prank(buyer);
        try escrow.open(p) returns (uint256 tradeId) {
            require(!recalled, "openOrder: a recalled batch was accepted");
            require(tradeId == _trades.length + 1, "openOrder: trade ids are not sequential");
            for (uint256 i; i < 2; ++i) {
                _trades.push(
                    TradeGhost({
                        id: tradeId + i,
                        buyer: buyer,
                        seller: seller,
                        token: p.token,
                        batch: ids[i],
                        amount: amounts[i],
                        shippedShare: amounts[i] * p.shippedBps / _BPS,
                        openedAt: clock,
                        deliverBy: p.deliverBy,
                        disputeWindow: p.disputeWindow,
                        rulingPeriod: p.rulingPeriod,
                        feeBps: feeBps,
                        disputedAt: 0,
                        state: ITradeEscrow.State.Open,
                        released: 0
                    })
                );
            }
        } catch (bytes memory err) {
            _expect(err, ITradeEscrow.EscrowBatchRecalled.selector, recalled, "openOrder");
        }
    }

    /// @notice Anyone calls release: it must pay exactly the milestones the trade's own facts earned.
    function release(uint256 tradeSeed, uint256 callerSeed) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Open);
        VM.prank(_caller(callerSeed));
        try escrow.release(t.id) returns (uint256 paid) {
            require(t.state == ITradeEscrow.State.Open, "release: succeeded on a trade that is not open");
            // Each milestone is paid, and its fee taken, on its own.
            (uint256 shipped, uint256 delivered) = (0, 0);
            if (!batchGhost[t.batch].recalled) {
                shipped = _shippedDue(t);
                if (_deliveryFinal(t)) delivered = t.amount - t.released - shipped;
            }
            require(paid == shipped + delivered, "release: paid other than the trade's own facts earned");
            _paySeller(t, shipped);
            _paySeller(t, delivered);
            if (t.released == t.amount) t.state = ITradeEscrow.State.Closed;
        } catch (bytes memory err) {
            _expect(err, ITradeEscrow.EscrowTradeNotOpen.selector, t.state != ITradeEscrow.State.Open, "release");
        }
    }

    /// @notice The buyer confirms receipt: the whole remainder goes to the seller, whatever the registry says.
    function confirm(uint256 tradeSeed) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Open);
        VM.prank(t.buyer);
        try escrow.confirmReceipt(t.id) {
            require(t.state != ITradeEscrow.State.Closed, "confirm: succeeded on a closed trade");
            _paySeller(t, t.amount - t.released);
            t.state = ITradeEscrow.State.Closed;
        } catch (bytes memory err) {
            _expect(err, ITradeEscrow.EscrowTradeClosed.selector, t.state == ITradeEscrow.State.Closed, "confirm");
        }
    }

    /// @notice Anyone calls refund: only after `deliverBy`, never once the trade's own shipment was delivered.
    function refund(uint256 tradeSeed, uint256 callerSeed) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Open);
        bool delivered = _own(t) && shipments[t.batch][t.buyer].deliveredAt != 0;
        VM.prank(_caller(callerSeed));
        try escrow.refund(t.id) {
            require(t.state == ITradeEscrow.State.Open, "refund: succeeded on a trade that is not open");
            require(clock > t.deliverBy, "refund: succeeded before deliverBy");
            require(!delivered, "refund: succeeded after the trade's own delivery");
            uint256 due = batchGhost[t.batch].recalled ? 0 : _shippedDue(t);
            _paySeller(t, due);
            credited[t.buyer][t.token] += t.amount - t.released;
            t.state = ITradeEscrow.State.Closed;
        } catch (bytes memory err) {
            bytes4 expected = t.state != ITradeEscrow.State.Open
                ? ITradeEscrow.EscrowTradeNotOpen.selector
                : clock <= t.deliverBy
                    ? ITradeEscrow.EscrowDeliveryDeadlineNotPassed.selector
                    : delivered ? ITradeEscrow.EscrowAlreadyDelivered.selector : bytes4(0);
            _expect(err, expected, expected != 0, "refund");
        }
    }

    /// @notice The buyer or the seller disputes an open trade.
    function dispute(uint256 tradeSeed, bool bySeller) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Open);
        VM.prank(bySeller ? t.seller : t.buyer);
        try escrow.dispute(t.id, bytes32("evidence")) {
            require(t.state == ITradeEscrow.State.Open, "dispute: succeeded on a trade that is not open");
            t.state = ITradeEscrow.State.Disputed;
            t.disputedAt = clock;
        } catch (bytes memory err) {
            _expect(err, ITradeEscrow.EscrowTradeNotOpen.selector, t.state != ITradeEscrow.State.Open, "dispute");
        }
    }

    /// @notice The arbiter rules within its ruling period.
    function resolve(uint256 tradeSeed, uint16 sellerBps) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Disputed);
        uint16 bps = uint16(sellerBps % (_BPS + 1));
        VM.prank(ARBITER);
        try escrow.resolve(t.id, bps) {
            require(t.state == ITradeEscrow.State.Disputed, "resolve: succeeded on a trade not in dispute");
            require(clock <= t.disputedAt + t.rulingPeriod, "resolve: succeeded after the ruling deadline");
            uint256 rest = t.amount - t.released;
            uint256 toSeller = rest * bps / _BPS;
            _paySeller(t, toSeller);
            credited[t.buyer][t.token] += rest - toSeller;
            t.state = ITradeEscrow.State.Closed;
        } catch (bytes memory err) {
            bytes4 expected = t.state != ITradeEscrow.State.Disputed
                ? ITradeEscrow.EscrowTradeNotDisputed.selector
                : clock > t.disputedAt + t.rulingPeriod ? ITradeEscrow.EscrowRulingDeadlinePassed.selector : bytes4(0);
            _expect(err, expected, expected != 0, "resolve");
        }
    }

    /// @notice Anyone applies the default ruling once the arbiter's time is up: what the trade's own facts decide.
    function resolveByTimeout(uint256 tradeSeed, uint256 callerSeed) external step {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Disputed);
        (bool decided, uint256 toSeller) = _defaultRuling(t);
        VM.prank(_caller(callerSeed));
        try escrow.resolveByTimeout(t.id) {
            require(t.state == ITradeEscrow.State.Disputed, "timeout: succeeded on a trade not in dispute");
            require(clock > t.disputedAt + t.rulingPeriod, "timeout: succeeded before the ruling deadline");
            require(decided, "timeout: ruled while the outcome was pending");
            uint256 rest = t.amount - t.released;
            _paySeller(t, toSeller);
            credited[t.buyer][t.token] += rest - toSeller;
            t.state = ITradeEscrow.State.Closed;
        } catch (bytes memory err) {
            bytes4 expected = t.state != ITradeEscrow.State.Disputed
                ? ITradeEscrow.EscrowTradeNotDisputed.selector
                : clock <= t.disputedAt + t.rulingPeriod
                    ? ITradeEscrow.EscrowRulingDeadlineNotPassed.selector
                    : !decided ? ITradeEscrow.EscrowOutcomePending.selector : bytes4(0);
            _expect(err, expected, expected != 0, "resolveByTimeout");
        }
    }

    /// @notice An account withdraws what it was credited; it must receive exactly that.
    function withdraw(uint256 accountSeed, bool native) external step {
        address account = _account(accountSeed);
        address token = native ? address(0) : address(usdc);
        uint256 amount = credited[account][token];
        uint256 before = _held(account, token);
        VM.prank(account);
        try escrow.withdraw(token) {
            require(amount != 0, "withdraw: paid an account with nothing credited");
            require(_held(account, token) - before == amount, "withdraw: paid other than credited");
            credited[account][token] = 0;
        } catch (bytes memory err) {
            _expect(err, ITradeEscrow.EscrowNothingToWithdraw.selector, amount == 0, "withdraw");
        }
    }

    /// @notice The admin changes the fee rate and recipient; open trades keep the rate they were opened with.
    function setFee(uint256 feeSeed, bool second) external step {
        uint16 fee = uint16(feeSeed % 501);
        address recipient = treasuries[second ? 1 : 0];
        escrow.setFee(fee, recipient);
        (feeBps, feeRecipient) = (fee, recipient);
    }

    // ------------------------------------------------------------ time

    /// @notice Time passes: up to an hour, a day, three days or ten days.
    function sleep(uint64 delaySeed) external {
        uint64[4] memory scale = [uint64(3600), 1 days, 3 days, 10 days];
        clock += 1 + delaySeed % scale[(delaySeed >> 32) % 4];
        VM.warp(clock);
    }

    /// @notice The next action lands 1 s before, at, or 1 s after one of a trade's deadlines.
    function warpToEdge(uint256 tradeSeed, uint8 which, uint8 offset) external {
        if (_trades.length == 0) return;
        TradeGhost storage t = _pick(tradeSeed, ITradeEscrow.State.Disputed);
        uint256 edge = t.deliverBy;
        if (which % 3 == 1 && t.state == ITradeEscrow.State.Disputed) edge = t.disputedAt + t.rulingPeriod;
        if (which % 3 == 2 && _own(t) && shipments[t.batch][t.buyer].deliveredAt != 0) edge = _windowEnd(t);
        uint256 target = edge + offset % 3 - 2; // the next action runs one second later: edge - 1, edge or edge + 1
        if (target > clock) {
            clock = uint64(target);
            VM.warp(clock);
        }
    }

    // ------------------------------------------------------------ closing out (afterInvariant)

    /// @notice Close every trade the way its facts allow, withdraw every balance; the escrow must end up empty.
    function closeAll() external {
        for (uint256 i; i < _trades.length; ++i) {
            TradeGhost storage t = _trades[i];
            if (t.state != ITradeEscrow.State.Open) continue;
            _warpPast(t.deliverBy > _windowEnd(t) ? t.deliverBy : _windowEnd(t));
            bool delivered = _own(t) && shipments[t.batch][t.buyer].deliveredAt != 0;
            if (!delivered) {
                this.refund(2 * i, 4);
            } else if (!batchGhost[t.batch].recalled) {
                this.release(2 * i, 4);
            } else {
                this.dispute(2 * i, false); // delivered and recalled: release pays nothing, refund is barred
            }
        }
        for (uint256 i; i < _trades.length; ++i) {
            TradeGhost storage t = _trades[i];
            if (t.state != ITradeEscrow.State.Disputed) continue;
            uint256 deadline = t.disputedAt + t.rulingPeriod;
            _warpPast(deadline > t.deliverBy ? deadline : t.deliverBy);
            this.resolveByTimeout(2 * i, 4);
            require(t.state == ITradeEscrow.State.Closed, "closeAll: a disputed trade could not be closed");
        }
        for (uint256 i; i < _trades.length; ++i) {
            require(_trades[i].state == ITradeEscrow.State.Closed, "closeAll: a trade could not be closed");
        }
        for (uint256 a; a < 7; ++a) {
            if (credited[_account(a)][address(usdc)] != 0) this.withdraw(a, false);
            if (credited[_account(a)][address(0)] != 0) this.withdraw(a, true);
        }
        require(usdc.balanceOf(address(escrow)) == 0, "closeAll: tokens left in the escrow");
        require(address(escrow).balance == 0, "closeAll: native coin left in the escrow");
    }

    // ------------------------------------------------------------ views for the invariants

    function tradeCount() external view returns (uint256) {
        return _trades.length;
    }

    function tradeAt(uint256 i) external view returns (TradeGhost memory) {
        return _trades[i];
    }

    function accountAt(uint256 i) external view returns (address) {
        return _account(i);
    }

    uint256 public constant ACCOUNTS = 7;

    // ------------------------------------------------------------ internals

    /// @dev The terms of a new trade: one of six payment schedules ((0, 0) meaning all on delivery), dispute windows
    /// at and just above the minimum or the CLI's three days, ruling periods likewise.
    function _terms(address seller, address token, bytes32 id, uint256 amount, uint256 seed)
        private
        pure
        returns (ITradeEscrow.OpenParams memory p)
    {
        uint16[6] memory shippedBps = [uint16(0), 0, 3000, 3333, 5000, 10_000];
        uint32[3] memory periods = [uint32(1 days), 1 days + 1, 3 days];
        uint16 sBps = shippedBps[seed % 6];
        p.seller = seller;
        p.arbiter = ARBITER;
        p.token = token;
        p.batchId = id;
        p.amount = amount;
        p.rulingPeriod = periods[(seed / 6) % 3];
        p.shippedBps = sBps;
        p.deliveredBps = seed % 6 == 0 ? 0 : uint16(_BPS - sBps);
        p.disputeWindow = periods[(seed / 18) % 3];
    }

    function _register(address producer) private {
        bytes32 id = keccak256(abi.encode("FUZZ", batches.length));
        VM.prank(producer);
        registry.registerBatch(id, keccak256(abi.encode(id)), 1000, "KGM");
        batches.push(id);
        batchGhost[id] = BatchGhost(producer, producer, address(0), false);
    }

    function _ship(bytes32 id, address to) private {
        BatchGhost storage b = batchGhost[id];
        address from = b.custodian;
        if (b.consignee != address(0) || b.recalled || !_isTrader(from) || to == from) return;
        VM.prank(from);
        registry.recordEvent(id, ITraceRegistry.Step.Shipping, keccak256(abi.encode(id, clock)), 0, to);
        // The shipper held the batch: if a shipment brought it there, that shipment is now handed on.
        Ghost.Shipment storage previous = shipments[id][from];
        if (previous.shipper != address(0)) previous.handedOnAt = clock;
        shipments[id][to] = Ghost.Shipment(from, clock, 0, 0, false);
        b.consignee = to;
    }

    function _deliver(uint256 batchSeed, bool byConsignee) private {
        if (batches.length == 0) return;
        bytes32 id = batches[batchSeed % batches.length];
        BatchGhost storage b = batchGhost[id];
        address to = b.consignee;
        if (to == address(0) || b.recalled) return;
        VM.prank(byConsignee ? to : CARRIER);
        registry.recordEvent(
            id,
            byConsignee ? ITraceRegistry.Step.Receiving : ITraceRegistry.Step.Arriving,
            keccak256(abi.encode(id, clock)),
            0,
            address(0)
        );
        Ghost.Shipment storage s = shipments[id][to];
        (s.deliveredAt, s.received) = (clock, byConsignee);
        (b.custodian, b.consignee) = (to, address(0));
    }

    /// @dev The trade's own shipment exists: the latest shipment to the buyer is the seller's, and the buyer had
    /// not completed it (received it itself, or shipped the batch on) before the trade opened.
    function _own(TradeGhost storage t) private view returns (bool) {
        Ghost.Shipment storage s = shipments[t.batch][t.buyer];
        if (s.shipper != t.seller) return false;
        if (s.received && s.deliveredAt < t.openedAt) return false;
        return s.handedOnAt == 0 || s.handedOnAt >= t.openedAt;
    }

    function _windowEnd(TradeGhost storage t) private view returns (uint256) {
        uint64 arrival = shipments[t.batch][t.buyer].deliveredAt;
        return (arrival > t.openedAt ? arrival : t.openedAt) + t.disputeWindow;
    }

    function _deliveryFinal(TradeGhost storage t) private view returns (bool) {
        Ghost.Shipment storage s = shipments[t.batch][t.buyer];
        if (!_own(t) || s.deliveredAt == 0) return false;
        return s.received || clock >= _windowEnd(t);
    }

    function _shippedDue(TradeGhost storage t) private view returns (uint256) {
        if (!_own(t) || t.released >= t.shippedShare) return 0;
        return t.shippedShare - t.released;
    }

    /// @dev The default ruling's seller share, or `decided = false` while it is pending (EscrowOutcomePending).
    function _defaultRuling(TradeGhost storage t) private view returns (bool decided, uint256 toSeller) {
        if (batchGhost[t.batch].recalled) return (true, 0);
        Ghost.Shipment storage s = shipments[t.batch][t.buyer];
        if (_own(t) && s.deliveredAt != 0 && (s.received || t.disputedAt >= _windowEnd(t))) {
            return (true, t.amount - t.released);
        }
        if (clock <= t.deliverBy) return (false, 0);
        return (true, _shippedDue(t));
    }

    function _paySeller(TradeGhost storage t, uint256 gross) private {
        if (gross == 0) return;
        uint256 fee = gross * t.feeBps / _BPS;
        t.released += gross;
        credited[t.seller][t.token] += gross - fee;
        credited[feeRecipient][t.token] += fee;
    }

    function _snapshot() private view returns (uint8[] memory states, uint256[] memory released) {
        uint256 n = _trades.length;
        (states, released) = (new uint8[](n), new uint256[](n));
        for (uint256 i; i < n; ++i) {
            ITradeEscrow.Trade memory v = escrow.getTrade(_trades[i].id);
            (states[i], released[i]) = (uint8(v.state), v.released);
        }
    }

    /// @dev On chain, states only move forward (Open -> Disputed -> Closed, Open -> Closed), `released` only grows
    /// and never passes `amount`; and the chain agrees with the handler on both.
    function _checkMonotone(uint8[] memory states, uint256[] memory released) private view {
        for (uint256 i; i < _trades.length; ++i) {
            TradeGhost storage t = _trades[i];
            ITradeEscrow.Trade memory v = escrow.getTrade(t.id);
            if (i < states.length) {
                require(uint8(v.state) >= states[i], "monotone: a trade's state moved backwards");
                require(v.released >= released[i], "monotone: a trade's released amount shrank");
            }
            require(v.released <= v.amount, "monotone: a trade paid out more than it was funded");
            require(v.state == t.state, "agreement: the trade's state differs from the handler's");
            require(v.released == t.released, "agreement: released differs from the handler's");
        }
    }

    function _expect(bytes memory err, bytes4 selector, bool expected, string memory action) private pure {
        if (!expected || err.length < 4 || bytes4(err) != selector) {
            // Bubble the unexpected revert up so forge shows it with the failing sequence.
            if (err.length != 0) {
                assembly ("memory-safe") {
                    revert(add(err, 0x20), mload(err))
                }
            }
            revert(string.concat(action, ": unexpected revert"));
        }
    }

    function _warpPast(uint256 time) private {
        if (time >= clock) {
            clock = uint64(time);
            VM.warp(clock);
        }
    }

    function _held(address account, address token) private view returns (uint256) {
        return token == address(0) ? account.balance : usdc.balanceOf(account);
    }

    /// @dev Mostly the batch's holder, about to ship; when the buyer holds the batch already, mostly the trader
    /// that shipped it there (the goods received before the trade, which must not pay it); sometimes a third trader.
    function _seller(address buyer, address holder, address lastShipper, uint256 seed) private view returns (address) {
        if (seed % 5 != 0) {
            if (holder != buyer && _isTrader(holder)) return holder;
            if (holder == buyer && lastShipper != buyer && _isTrader(lastShipper)) return lastShipper;
        }
        return _other(buyer, holder);
    }

    /// @dev Trade number `seed / 2`; for odd seeds, counted among the trades in state `prefer` if there are any, so
    /// that calls which can succeed only in one state (resolve in Disputed, say) do succeed often.
    function _pick(uint256 seed, ITradeEscrow.State prefer) private view returns (TradeGhost storage) {
        uint256 n = _trades.length;
        if (seed % 2 == 1 && prefer != ITradeEscrow.State.None) {
            uint256 count;
            for (uint256 i; i < n; ++i) {
                if (_trades[i].state == prefer) ++count;
            }
            if (count != 0) {
                uint256 k = (seed / 2) % count;
                for (uint256 i; i < n; ++i) {
                    if (_trades[i].state != prefer) continue;
                    if (k == 0) return _trades[i];
                    --k;
                }
            }
        }
        return _trades[(seed / 2) % n];
    }

    function _isTrader(address a) private view returns (bool) {
        return a == traders[0] || a == traders[1] || a == traders[2];
    }

    function _other(address a, address b) private view returns (address) {
        for (uint256 i; i < traders.length; ++i) {
            if (traders[i] != a && traders[i] != b) return traders[i];
        }
        return traders[0] == a ? traders[1] : traders[0];
    }

    function _caller(uint256 seed) private view returns (address) {
        return _account(seed % ACCOUNTS);
    }

    /// @dev The traders, the arbiter, both treasuries and the stranger.
    function _account(uint256 i) private view returns (address) {
        i %= ACCOUNTS;
        if (i < 3) return traders[i];
        if (i == 3) return ARBITER;
        if (i < 6) return treasuries[i - 4];
        return STRANGER;
    }
}

/// @dev A shipment as the handler records it.
library Ghost {
    struct Shipment {
        address shipper;
        uint64 startedAt;
        uint64 deliveredAt;
        uint64 handedOnAt;
        bool received;
    }
}
