//! Where the node is, found the way `rumord` finds itself: the network
//! (`--network`, else `network` in the node's `rumord.toml`, else testnet),
//! the data directory (`--datadir`, else `~/.rumor/<network>`), the RPC URL
//! (`--rpc`, else `rpc-bind` from `RUMOR_RPC_BIND` or `rumord.toml`, else the
//! network's default port) and the credential (`--rpc-user`/`--rpc-password`,
//! else the file's, else `<datadir>/.cookie`). Like bitcoin-cli with
//! bitcoin.conf, so that `rumor` needs no flags where `rumord` needed none.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rumor_chain::Network;

use crate::rpc::{Credential, Endpoint};
use crate::{Cli, CliError};

/// The node config file's name in its data directory.
const CONFIG_FILE: &str = "rumord.toml";

/// What `rumor` reads from the node's `rumord.toml` (other keys are the
/// node's business).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFile {
    /// `network`.
    pub network: Option<Network>,
    /// `rpc-bind`.
    pub rpc_bind: Option<SocketAddr>,
    /// `rpc-user`.
    pub rpc_user: Option<String>,
    /// `rpc-password`.
    pub rpc_password: Option<String>,
}

/// Reads the keys `rumor` needs from a node config file; `None` if there
/// is no such file. Keys may be kebab-case or snake_case, as for `rumord`.
///
/// # Errors
/// [`CliError::NodeConfig`] if the file is unreadable, not TOML, or holds a
/// bad value for one of those keys.
pub fn read_node_file(path: &Path) -> Result<Option<NodeFile>, CliError> {
    let bad = |reason: String| CliError::NodeConfig {
        path: path.to_owned(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let get = |key: &str| table.get(key).or_else(|| table.get(&key.replace('-', "_")));
    let string = |key: &str| -> Result<Option<String>, CliError> {
        match get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!("`{key}` must be a string, not {other}"))),
        }
    };
    let network = string("network")?
        .map(|n| n.parse::<Network>().map_err(|e| bad(e.to_string())))
        .transpose()?;
    let rpc_bind = string("rpc-bind")?
        .map(|b| {
            b.parse::<SocketAddr>()
                .map_err(|e| bad(format!("`rpc-bind = \"{b}\"`: {e}")))
        })
        .transpose()?;
    Ok(Some(NodeFile {
        network,
        rpc_bind,
        rpc_user: string("rpc-user")?,
        rpc_password: string("rpc-password")?,
    }))
}

/// Where the node is and how to reach it.
#[derive(Debug, Clone)]
pub struct Located {
    /// The network.
    pub network: Network,
    /// The node's data directory.
    pub datadir: PathBuf,
    /// The RPC endpoint.
    pub endpoint: Endpoint,
    /// The wallet file.
    pub wallet: PathBuf,
}

/// An RPC URL for a bind address (an unspecified IP is reached on loopback).
fn url_of(bind: SocketAddr) -> String {
    let ip = if bind.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind.ip()
    };
    format!("http://{}", SocketAddr::new(ip, bind.port()))
}

fn home_datadir(network: Network) -> Result<PathBuf, CliError> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".rumor").join(network.name()))
        .ok_or_else(|| CliError::Other("no --datadir given and $HOME is not set".into()))
}

impl Cli {
    /// Finds the node: network, data directory, URL and credential.
    ///
    /// # Errors
    /// No data directory, an unreadable node config, or only one of user and
    /// password.
    pub fn locate(&self) -> Result<Located, CliError> {
        // The folder (when defaulted) depends on the network and the file
        // may name the network: the flag's network, or testnet, picks the
        // folder, as for rumord.
        let dir_network = self.network.unwrap_or_default();
        let datadir = match &self.datadir {
            Some(d) => d.clone(),
            None => home_datadir(dir_network)?,
        };
        let config = self
            .config
            .clone()
            .unwrap_or_else(|| datadir.join(CONFIG_FILE));
        let file = read_node_file(&config)?.unwrap_or_default();
        let network = self.network.or(file.network).unwrap_or_default();
        let bind_env = std::env::var("RUMOR_RPC_BIND")
            .ok()
            .filter(|b| !b.is_empty())
            .map(|b| {
                b.parse::<SocketAddr>().map_err(|e| {
                    CliError::Other(format!("RUMOR_RPC_BIND `{b}` is not an address: {e}"))
                })
            })
            .transpose()?;
        let url = match (&self.rpc, bind_env.or(file.rpc_bind)) {
            (Some(u), _) => u.clone(),
            (None, Some(bind)) => url_of(bind),
            (None, None) => format!("http://127.0.0.1:{}", network.default_rpc_port()),
        };
        let user = self.rpc_user.clone().or(file.rpc_user);
        let password = self.rpc_password.clone().or(file.rpc_password);
        let auth = match (user, password) {
            (Some(u), Some(p)) => Credential::UserPassword(u, p),
            (None, None) => Credential::Cookie(
                self.cookie
                    .clone()
                    .unwrap_or_else(|| datadir.join(".cookie")),
            ),
            _ => {
                return Err(CliError::Other(
                    "--rpc-user and --rpc-password must be given together".into(),
                ));
            }
        };
        let wallet = self
            .wallet
            .clone()
            .unwrap_or_else(|| datadir.join("wallet.json"));
        Ok(Located {
            network,
            datadir,
            endpoint: Endpoint {
                url,
                auth,
                timeout: Duration::from_millis(self.timeout_ms),
            },
            wallet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("rumor").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_node_file_gives_network_address_and_credential() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let c = cli(&["--datadir", d, "info"]);
        let l = c.locate().unwrap();
        assert_eq!(l.network, Network::Testnet);
        assert_eq!(l.endpoint.url, "http://127.0.0.1:17332");
        assert!(
            matches!(&l.endpoint.auth, Credential::Cookie(p) if p == &dir.path().join(".cookie"))
        );
        assert_eq!(l.wallet, dir.path().join("wallet.json"));
        let l = cli(&["--datadir", d, "--network", "regtest", "info"])
            .locate()
            .unwrap();
        assert_eq!(l.endpoint.url, "http://127.0.0.1:17443");

        std::fs::write(
            dir.path().join("rumord.toml"),
            "network = \"regtest\"\nrpc-bind = \"0.0.0.0:40123\"\nmesh_d = 3\n",
        )
        .unwrap();
        let l = cli(&["--datadir", d, "info"]).locate().unwrap();
        assert_eq!(l.network, Network::Regtest);
        assert_eq!(l.endpoint.url, "http://127.0.0.1:40123");
        // Flags win over the file.
        let l = cli(&["--datadir", d, "--rpc", "http://127.0.0.1:1", "info"])
            .locate()
            .unwrap();
        assert_eq!(l.endpoint.url, "http://127.0.0.1:1");

        std::fs::write(
            dir.path().join("rumord.toml"),
            "rpc_user = \"alice\"\nrpc-password = \"pw\"\n",
        )
        .unwrap();
        let l = cli(&["--datadir", d, "info"]).locate().unwrap();
        assert!(
            matches!(l.endpoint.auth, Credential::UserPassword(u, p) if u == "alice" && p == "pw")
        );

        std::fs::write(dir.path().join("rumord.toml"), "rpc-bind = \"nonsense\"\n").unwrap();
        let e = cli(&["--datadir", d, "info"]).locate().unwrap_err();
        assert!(e.to_string().contains("rpc-bind"), "{e}");
    }
}
