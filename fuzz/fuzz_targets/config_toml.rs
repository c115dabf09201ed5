//! The config loader: `rumord.toml` text through `Settings::from_toml` (TOML
//! syntax, kebab/snake keys, types, unknown keys) and then validation into a
//! `NodeConfig` (`Settings::resolve`: multiaddrs, node key, credentials,
//! mesh bounds, link emulation, genesis). Never panics: every bad file is a
//! typed `ConfigError`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rumor_node::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(settings) = Settings::from_toml(text, Path::new("fuzz.toml")) else {
        return;
    };
    // Huge genesis sizes only cost time: the rule is tested elsewhere.
    if settings.genesis_outputs.is_some_and(|n| n > 100_000) {
        return;
    }
    let merged = Settings::default().over(settings);
    if let Ok(cfg) = merged
        .with_datadir(Path::new("/nonexistent/fuzz"))
        .resolve()
    {
        cfg.log_effective();
    }
});
