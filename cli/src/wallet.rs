//! The wallet file: `{ "network": ..., "keys": [{ "seed": hex, "address": ... }],
//! "pending": [{ "txid", "hex", "sent_unix" }] }`, mode 0600, never
//! overwritten without `--force`. `pending` holds the wallet's own sends
//! until they are confirmed, so that they can be submitted again to a node
//! that lost them (see `rebroadcast`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rumor_chain::{Address, AddressError, KeyPair, Network};
use serde::{Deserialize, Serialize};

use crate::CliError;

/// One key of the wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletKey {
    /// The 32-byte ed25519 seed, hex.
    pub seed: String,
    /// Its address.
    pub address: String,
}

/// A payment this wallet sent, not yet confirmed deeply enough to forget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSend {
    /// Its txid.
    pub txid: String,
    /// The signed transaction, hex.
    pub hex: String,
    /// When it was sent, Unix seconds.
    pub sent_unix: u64,
}

/// The most sends a wallet watches; past it the oldest is forgotten.
pub(crate) const MAX_PENDING: usize = 10_000;

/// The wallet file's contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wallet {
    /// The network it is for.
    pub network: Network,
    /// Its keys; the first is the receiving and change address.
    pub keys: Vec<WalletKey>,
    /// Its own sends not yet confirmed (oldest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingSend>,
}

fn key_entry(k: &KeyPair, network: Network) -> WalletKey {
    WalletKey {
        seed: hex::encode(k.seed()),
        address: k.address().encode(network),
    }
}

/// Parses a hex seed.
///
/// # Errors
/// [`CliError::Wallet`] if it is not 64 hex characters.
pub fn parse_seed(text: &str) -> Result<KeyPair, CliError> {
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            CliError::Wallet("a key must be 64 hex characters (a 32-byte seed)".into())
        })?;
    Ok(KeyPair::from_seed(bytes))
}

impl Wallet {
    /// A wallet with one fresh key.
    pub fn generate(network: Network) -> Self {
        Self {
            network,
            keys: vec![key_entry(&KeyPair::generate(), network)],
            pending: Vec::new(),
        }
    }

    /// A wallet holding `key`.
    pub fn with_key(network: Network, key: &KeyPair) -> Self {
        Self {
            network,
            keys: vec![key_entry(key, network)],
            pending: Vec::new(),
        }
    }

    /// Adds a key (no effect if present). Returns whether it was new.
    pub fn add(&mut self, key: &KeyPair) -> bool {
        let e = key_entry(key, self.network);
        if self.keys.iter().any(|k| k.address == e.address) {
            return false;
        }
        self.keys.push(e);
        true
    }

    /// Loads and checks a wallet file.
    ///
    /// # Errors
    /// [`CliError::NoWallet`] if missing; [`CliError::Wallet`] if malformed.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CliError::NoWallet(path.to_owned()));
            }
            Err(e) => return Err(CliError::Wallet(format!("{}: {e}", path.display()))),
        };
        let mut w: Wallet = serde_json::from_str(&text).map_err(|e| {
            CliError::Wallet(format!("{} is not a wallet file: {e}", path.display()))
        })?;
        if w.keys.is_empty() {
            return Err(CliError::Wallet(format!(
                "{} holds no keys",
                path.display()
            )));
        }
        let network = w.network;
        let mut upgraded = false;
        for k in &mut w.keys {
            let kp = parse_seed(&k.seed)?;
            match Address::parse(&k.address, network) {
                Ok(a) if a == kp.address() => {}
                // Written before each network had its own address prefix:
                // the seed is what counts; write the address in today's form.
                Err(AddressError::OldPrefix) => {
                    k.address = kp.address().encode(network);
                    upgraded = true;
                }
                _ => {
                    return Err(CliError::Wallet(format!(
                        "{}: address {} is not the {network} address of its seed",
                        path.display(),
                        k.address
                    )));
                }
            }
        }
        if upgraded {
            w.replace(path)?;
        }
        Ok(w)
    }

    /// Remembers a send (until it is confirmed); the oldest is forgotten
    /// past [`MAX_PENDING`].
    pub fn remember(&mut self, txid: String, hex: String) {
        if self.pending.iter().any(|p| p.txid == txid) {
            return;
        }
        let sent_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.pending.push(PendingSend {
            txid,
            hex,
            sent_unix,
        });
        if self.pending.len() > MAX_PENDING {
            self.pending.remove(0);
        }
    }

    /// The key pairs.
    pub fn keypairs(&self) -> Vec<KeyPair> {
        self.keys
            .iter()
            .filter_map(|k| parse_seed(&k.seed).ok())
            .collect()
    }

    /// The addresses.
    pub fn addresses(&self) -> Vec<Address> {
        self.keypairs().iter().map(KeyPair::address).collect()
    }

    /// The receiving (and change) address: the first key's.
    pub fn primary(&self) -> Address {
        self.addresses()[0]
    }

    /// The receiving address as text (with the network's prefix).
    pub fn primary_text(&self) -> String {
        self.primary().encode(self.network)
    }

    /// Writes a new wallet file (mode 0600). An existing file is an error
    /// unless `force`.
    ///
    /// # Errors
    /// [`CliError::WalletExists`], or an I/O failure.
    pub fn create(&self, path: &Path, force: bool) -> Result<(), CliError> {
        if path.exists() && !force {
            return Err(CliError::WalletExists(path.to_owned()));
        }
        self.replace(path)
    }

    /// Writes the wallet atomically (a 0600 temporary file renamed over `path`).
    ///
    /// # Errors
    /// An I/O failure.
    pub fn replace(&self, path: &Path) -> Result<(), CliError> {
        let io = |e: std::io::Error| CliError::Wallet(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp: PathBuf = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
        let text =
            serde_json::to_string_pretty(self).map_err(|e| CliError::Other(e.to_string()))?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuses_overwrite_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let w = Wallet::generate(Network::Regtest);
        w.create(&path, false).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(matches!(
            Wallet::generate(Network::Regtest).create(&path, false),
            Err(CliError::WalletExists(_))
        ));
        let loaded = Wallet::load(&path).unwrap();
        assert_eq!(loaded.primary(), w.primary());
        Wallet::generate(Network::Regtest)
            .create(&path, true)
            .unwrap();
        assert_ne!(Wallet::load(&path).unwrap().primary(), w.primary());
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(Wallet::load(&path), Err(CliError::Wallet(_))));
    }

    /// An address as written before each network had its own prefix.
    fn legacy_text(key: &KeyPair) -> String {
        let hrp = bech32::Hrp::parse(rumor_chain::OLD_ADDRESS_PREFIX).unwrap();
        bech32::encode::<bech32::Bech32m>(hrp, key.address().as_bytes()).unwrap()
    }

    #[test]
    fn addresses_carry_the_network_and_old_wallets_are_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let key = KeyPair::from_seed([7; 32]);
        let w = Wallet::with_key(Network::Regtest, &key);
        assert!(w.primary_text().starts_with("rumorreg1"));
        // A wallet of the shared-prefix days (`rumor1…`) loads, and is rewritten.
        let legacy = serde_json::json!({
            "network": "regtest",
            "keys": [{ "seed": hex::encode([7u8; 32]), "address": legacy_text(&key) }],
        });
        std::fs::write(&path, legacy.to_string()).unwrap();
        let loaded = Wallet::load(&path).unwrap();
        assert_eq!(loaded.primary(), key.address());
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains(&w.primary_text())
        );
        // A testnet address in a regtest wallet is corruption, not an upgrade.
        let wrong = serde_json::json!({
            "network": "regtest",
            "keys": [{ "seed": hex::encode([7u8; 32]), "address": key.address().encode(Network::Testnet) }],
        });
        std::fs::write(&path, wrong.to_string()).unwrap();
        assert!(matches!(Wallet::load(&path), Err(CliError::Wallet(_))));
    }
}
