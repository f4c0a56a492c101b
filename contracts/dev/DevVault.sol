// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

/// @notice Plain ERC-4626 vault for the dev chain and tests: yield is simulated by sending assets to it.
contract DevVault is ERC4626 {
    constructor(IERC20 asset_) ERC20("DevSponsor Dev Vault", "dsVAULT") ERC4626(asset_) {}
}
