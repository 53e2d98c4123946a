// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITradeEscrow} from "../../contracts/interfaces/ITradeEscrow.sol";
import {EscrowHandler} from "./EscrowHandler.sol";

/// @title TradeEscrowScenarios
/// @notice The sequences of issue 11, replayed through the {EscrowHandler} actions: each shows that the handler
/// reaches the path (its predictions are checked on every call) and what the escrow did there.
contract TradeEscrowScenarios {
    EscrowHandler internal h;
    ITradeEscrow internal escrow;

    // Seeds: batch 0 is held by trader 0 from the start; `ship(0, 1)` sends it to trader 1; `open(1, 0, 2, 1, 100,
    // false)` has trader 1 buy batch 0 for 3 token units, 100 % on delivery, deliverBy 101 s away, a one-day
    // dispute window and ruling period; an odd trade seed picks among open (or disputed) trades.
    function setUp() public {
        h = new EscrowHandler();
        escrow = h.escrow();
    }

    /// @notice Returned goods do not pay a new trade: trader 1 received the batch from trader 0 and shipped it back;
    /// a trade trader 1 then opens with trader 0 is not paid by that old delivery, and is refunded after deliverBy.
    function test_returnedGoodsDoNotPayANewTrade() public {
        h.ship(0, 1);
        h.receive_(0);
        h.ship(0, 0); // trader 1 returns it to trader 0 ...
        h.receive_(0); // ... who receives it back
        h.open(1, 0, 2, 1, 100, false); // trader 1 buys batch 0 from trader 0
        _check(1, ITradeEscrow.State.Open, 0);
        h.release(1, 6);
        _check(1, ITradeEscrow.State.Open, 0); // the old delivery paid nothing
        h.warpToEdge(1, 0, 2); // the next call lands after deliverBy
        h.refund(1, 6);
        _check(1, ITradeEscrow.State.Closed, 0);
    }

    /// @notice Goods received before the trade do not pay it: trader 1 holds the batch trader 0 shipped it, then
    /// opens a trade with trader 0; release pays nothing, and the default ruling after a dispute refunds it.
    function test_goodsReceivedBeforeTheTradeDoNotPayIt() public {
        h.ship(0, 1);
        h.receive_(0);
        h.open(1, 0, 2, 1, 100, false);
        h.release(1, 6);
        _check(1, ITradeEscrow.State.Open, 0);
        h.dispute(1, false);
        h.warpToEdge(1, 1, 2); // the next call lands after the ruling deadline (one day; deliverBy is 101 s)
        h.resolveByTimeout(1, 6);
        _check(1, ITradeEscrow.State.Closed, 0);
    }

    /// @notice A carrier's arrival two days before the opening gets a full dispute window from the opening: release
    /// right after the opening pays nothing, the buyer's dispute inside the window holds, and the default ruling does not
    /// pay the seller on the carrier's word.
    function test_arrivalBeforeOpeningKeepsTheDisputeWindow() public {
        h.ship(0, 1);
        h.arrive(0);
        h.sleep(8590060799); // two days: the window counted from the arrival would be over
        h.open(1, 0, 2, 1, 100, false);
        h.release(1, 6);
        _check(1, ITradeEscrow.State.Open, 0);
        h.dispute(1, false);
        h.warpToEdge(1, 1, 2);
        h.resolveByTimeout(1, 6);
        _check(1, ITradeEscrow.State.Closed, 0);
    }

    /// @notice The trade's own shipment pays: shipped after the opening and received by the buyer, it pays in full.
    function test_ownShipmentPays() public {
        h.open(1, 0, 2, 1, 100, false); // trader 1 buys batch 0 (held by trader 0)
        h.shipToBuyer(1);
        h.receive_(0);
        h.release(1, 6);
        _check(1, ITradeEscrow.State.Closed, 3); // amount seed 2: 3 units
    }

    /// @notice A dispute raised after the buyer's own receipt does not stop the seller being paid: the default
    /// ruling pays the seller everything.
    function test_disputeAfterReceiptDefaultsToTheSeller() public {
        h.open(1, 0, 2, 1, 100, false);
        h.shipToBuyer(1);
        h.receive_(0);
        h.dispute(1, false);
        h.warpToEdge(1, 1, 2);
        h.resolveByTimeout(1, 6);
        _check(1, ITradeEscrow.State.Closed, 3);
    }

    function _check(uint256 tradeId, ITradeEscrow.State state, uint256 released) private view {
        ITradeEscrow.Trade memory t = escrow.getTrade(tradeId);
        require(t.state == state, "unexpected state");
        require(t.released == released, "unexpected released");
    }
}
