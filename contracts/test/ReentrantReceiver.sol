// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ReentrantReceiver
/// @notice A contract trader (buyer or seller) for escrow tests. It forwards calls to a target, and when it is
/// paid native coin it either reverts or calls back into the target with preset calldata, recording the outcome.
contract ReentrantReceiver {
    enum Mode {
        Accept, // take the payment quietly
        Revert, // refuse every payment
        Reenter // call `target` with `reentryData` and record whether it reverted
    }

    /// @notice Raised by receive() in Revert mode.
    error ReentrantReceiverRefused();

    address public immutable target;
    Mode public mode;
    bytes public reentryData;
    uint256 public reentryAttempts;
    bool public lastReentrySucceeded;
    bytes public lastReentryError;

    constructor(address target_) {
        target = target_;
    }

    /// @notice Sets how receive() behaves.
    function setMode(Mode mode_, bytes calldata reentryData_) external {
        mode = mode_;
        reentryData = reentryData_;
    }

    /// @notice Calls `target` with `data` and `msg.value`, bubbling up any revert.
    function execute(bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    receive() external payable {
        if (mode == Mode.Revert) revert ReentrantReceiverRefused();
        if (mode == Mode.Reenter) {
            reentryAttempts += 1;
            (bool ok, bytes memory err) = target.call(reentryData);
            lastReentrySucceeded = ok;
            lastReentryError = err;
        }
    }
}
