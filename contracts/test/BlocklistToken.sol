// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title BlocklistToken
/// @notice 6-decimal ERC-20 whose transfers from or to a blocklisted address revert, like USDC's blacklist.
contract BlocklistToken is ERC20 {
    /// @notice A transfer touched a blocklisted address.
    error BlocklistTokenBlocked(address account);

    mapping(address account => bool) public blocked;

    constructor() ERC20("Blocklist USD", "BUSD") {}

    /// @notice Mints `amount` to `to`; open to anyone, this is a test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Blocks or unblocks `account`.
    function setBlocked(address account, bool value) external {
        blocked[account] = value;
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[from]) revert BlocklistTokenBlocked(from);
        if (blocked[to]) revert BlocklistTokenBlocked(to);
        super._update(from, to, value);
    }
}
