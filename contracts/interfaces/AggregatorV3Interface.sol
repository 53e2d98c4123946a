// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AggregatorV3Interface
/// @notice The read side of a Chainlink price feed, as the escrow uses it: the latest round and its scale.
/// @dev Declared here rather than imported: the escrow needs two calls of a stable, widely implemented interface.
interface AggregatorV3Interface {
    /// @notice Number of decimals of `answer`.
    function decimals() external view returns (uint8);

    /// @notice Human-readable description of the pair, e.g. "EUR / USD".
    function description() external view returns (string memory);

    /// @notice The latest round: its id, the answer, when it started, when it was last updated, and the round the
    /// answer was computed in.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
