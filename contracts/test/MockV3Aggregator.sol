// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockV3Aggregator
/// @notice Price feed for the local chain and tests: the deployer posts rounds, each answer at the time given.
contract MockV3Aggregator is AggregatorV3Interface, Ownable {
    uint8 public immutable override decimals;
    string public override description;

    uint80 private _roundId;
    int256 private _answer;
    uint256 private _updatedAt;

    /// @notice A round was posted.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) Ownable(msg.sender) {
        decimals = decimals_;
        description = description_;
        _post(initialAnswer, block.timestamp);
    }

    /// @notice Posts a new round with `answer`, updated now.
    /// @dev Requirements: the caller is the owner. Emits an {AnswerUpdated} event.
    function updateAnswer(int256 answer) external onlyOwner {
        _post(answer, block.timestamp);
    }

    /// @notice Posts a new round with `answer` as if updated at `updatedAt` (to test stale rounds).
    /// @dev Requirements: the caller is the owner. Emits an {AnswerUpdated} event.
    function updateRoundData(int256 answer, uint256 updatedAt) external onlyOwner {
        _post(answer, updatedAt);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }

    function _post(int256 answer, uint256 updatedAt) private {
        _roundId += 1;
        (_answer, _updatedAt) = (answer, updatedAt);
        emit AnswerUpdated(answer, _roundId, updatedAt);
    }
}
