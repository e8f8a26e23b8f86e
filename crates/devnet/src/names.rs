//! The devnet's contracts by the names policy files and written calls use for them.

use alloy::primitives::Address;

use crate::Deployment;

impl Deployment {
    /// The devnet's contracts by name, for policy files (`target = "uniswap_v3_router"`) and written calls: the
    /// devnet's own router, game and vault, its paymaster, and the real protocols deployed beside them.
    pub fn named_contracts(&self) -> Vec<(&'static str, Address)> {
        vec![
            ("router", self.dex_router),
            ("game", self.game_items),
            ("vault", self.yield_vault),
            ("paymaster", self.dev_paymaster),
            ("uniswap_v2_router", self.uniswap.v2_router),
            ("uniswap_v3_router", self.uniswap.v3_swap_router),
            ("uniswap_v3_quoter", self.uniswap.v3_quoter),
            ("permit2", self.permit2),
            ("collection", self.collection),
            ("seaport", self.seaport),
            ("aave_pool", self.aave.pool),
        ]
    }
}
