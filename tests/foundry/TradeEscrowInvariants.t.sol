// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITradeEscrow} from "../../contracts/interfaces/ITradeEscrow.sol";
import {EscrowHandler} from "./EscrowHandler.sol";

/// @title TradeEscrowInvariants
/// @notice Foundry invariant suite for {TradeEscrow} over the real {TraceRegistry}: forge calls the
/// {EscrowHandler} actions in random sequences (one run = one sequence of `depth` calls from a fresh setUp) and
/// checks after every call:
/// - conservation, per token: the escrow holds exactly what its open and disputed trades have not paid out plus
///   every balance credited for withdrawal, and each credited balance is what the handler credited;
/// - inside the handler, on every call: each payout is exactly what the trade's own registry facts earn (no
///   milestone paid by a fact that is not the trade's: someone else's shipment, goods received or handed on before
///   the opening, a carrier's arrival inside the dispute window), each revert is the one the facts call for, and
///   states only move forward;
/// - at the end of every sequence (afterInvariant): every trade can be closed and every balance withdrawn, which
///   leaves the escrow empty.
contract TradeEscrowInvariants {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    EscrowHandler internal handler;

    function setUp() public {
        handler = new EscrowHandler();
    }

    /// @dev Only the handler is called, and only through its actions.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory s = new bytes4[](20);
        s[0] = EscrowHandler.registerBatch.selector;
        s[1] = EscrowHandler.ship.selector;
        s[2] = EscrowHandler.shipToBuyer.selector;
        s[3] = EscrowHandler.shipToBuyer.selector; // weighted: the seller's shipment is what trades wait for
        s[4] = EscrowHandler.handOn.selector;
        s[5] = EscrowHandler.receive_.selector;
        s[6] = EscrowHandler.arrive.selector;
        s[7] = EscrowHandler.recall.selector;
        s[8] = EscrowHandler.open.selector;
        s[9] = EscrowHandler.release.selector;
        s[10] = EscrowHandler.confirm.selector;
        s[11] = EscrowHandler.refund.selector;
        s[12] = EscrowHandler.dispute.selector;
        s[13] = EscrowHandler.resolve.selector;
        s[14] = EscrowHandler.resolveByTimeout.selector;
        s[15] = EscrowHandler.withdraw.selector;
        s[16] = EscrowHandler.setFee.selector;
        s[17] = EscrowHandler.sleep.selector;
        s[18] = EscrowHandler.warpToEdge.selector;
        s[19] = EscrowHandler.openOrder.selector; // orders of two lines, each line its own trade
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), s);
    }

    /// @notice Conservation per token, and the chain's credited balances equal the handler's.
    function invariant_escrow() public view {
        ITradeEscrow escrow = handler.escrow();
        address[2] memory tokens = [address(handler.usdc()), address(0)];
        uint256[2] memory owed;
        uint256 n = handler.tradeCount();
        for (uint256 i; i < n; ++i) {
            ITradeEscrow.Trade memory t = escrow.getTrade(i + 1);
            if (t.state == ITradeEscrow.State.Closed) continue;
            owed[t.token == address(0) ? 1 : 0] += t.amount - t.released;
        }
        for (uint256 a; a < handler.ACCOUNTS(); ++a) {
            address account = handler.accountAt(a);
            for (uint256 k; k < 2; ++k) {
                uint256 balance = escrow.withdrawable(account, tokens[k]);
                require(balance == handler.credited(account, tokens[k]), "agreement: withdrawable differs");
                owed[k] += balance;
            }
        }
        require(handler.usdc().balanceOf(address(escrow)) == owed[0], "conservation: token balance");
        require(address(escrow).balance == owed[1], "conservation: native balance");
    }

    /// @notice Every sequence ends with every trade closed and every balance withdrawn: an empty escrow.
    function afterInvariant() public {
        handler.closeAll();
    }
}
