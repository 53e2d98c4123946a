// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title NaiveSupplyChain
/// @notice Benchmark baseline: the shape of the typical open-source supply-chain tutorial contract. Each step is a
/// struct of strings that overwrites the batch's current status, so no history is kept on-chain.
/// @dev Not used by the product; benchmarks compare its `addStep` gas with TraceRegistry's events.
contract NaiveSupplyChain {
    struct Step {
        string name;
        string location;
        string description;
        address actor;
        uint256 timestamp;
    }

    mapping(string batchId => Step) public batches;

    event StepAdded(string batchId, string name, string location, address actor, uint256 timestamp);

    /// @notice Sets the current status of `batchId`, replacing the previous one.
    /// @dev Emits a {StepAdded} event.
    function addStep(
        string memory batchId,
        string memory name,
        string memory location,
        string memory description
    ) public {
        batches[batchId] = Step(name, location, description, msg.sender, block.timestamp);
        emit StepAdded(batchId, name, location, msg.sender, block.timestamp);
    }

    /// @notice The current status of `batchId`.
    function getStep(string memory batchId) public view returns (Step memory) {
        return batches[batchId];
    }
}
