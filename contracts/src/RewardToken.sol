// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title RewardToken
 * @notice A plain ERC-20 for local runs and tests: the whole supply is minted to the deployer once.
 * Production deployments pass an existing token to the registry instead.
 */
contract RewardToken is ERC20 {
    /// @param initialSupply Tokens (18 decimals) minted to the deployer.
    constructor(uint256 initialSupply) ERC20("FL Reward", "FLR") {
        _mint(msg.sender, initialSupply);
    }
}
