//! rumor-chain (in progress)
