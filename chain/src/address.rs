//! [`Address`]: 20 bytes of sha256(pubkey), written as bech32m text with a
//! checksum and a prefix that names the network.

use std::fmt;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};

use crate::hash::sha256;
use crate::keys::PublicKey;
use crate::params::Network;

/// The prefix every network shared before each got its own (`rumor1…`).
/// Such text is refused with [`AddressError::OldPrefix`]: it does not say
/// which network it was meant for.
pub const OLD_ADDRESS_PREFIX: &str = "rumor";

/// An address: the first 20 bytes of sha256 of an ed25519 public key.
///
/// The 20 bytes are what transactions carry; the text form adds the network:
/// bech32m (BIP 350) with the network's prefix ([`Network::address_prefix`]:
/// `rumortest1…`, `rumorreg1…`). The checksum catches any error of up to four
/// characters, and the prefix an address of another network. [`Address::parse`]
/// takes the network the text must be for; `Display` shows the bare bytes in
/// hex (for logs), never a network.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

/// Why an address text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not bech32m, or the checksum does not match.
    #[error("not a valid bech32m string: {0}")]
    Encoding(String),
    /// A valid bech32m string with a prefix of no rumor network.
    #[error("address prefix is `{found}`, expected `rumortest` (testnet) or `rumorreg` (regtest)")]
    WrongPrefix {
        /// The prefix found.
        found: String,
    },
    /// An address of another network.
    #[error("this is a {found} address (`{}1…`), but the network is {expected} (`{}1…`)", found.address_prefix(), expected.address_prefix())]
    WrongNetwork {
        /// The network the text is for.
        found: Network,
        /// The network it was needed for.
        expected: Network,
    },
    /// The prefix all networks shared before each got its own.
    #[error(
        "`rumor1…` addresses are from before each network had its own prefix and do not say which network they are for; ask the payee for a new address (`rumortest1…` on testnet, `rumorreg1…` on regtest)"
    )]
    OldPrefix,
    /// The payload is not 20 bytes.
    #[error("address payload is {0} bytes, expected 20")]
    WrongLength(usize),
}

impl Address {
    /// The address of `pubkey`: the first 20 bytes of sha256(pubkey).
    pub fn from_pubkey(pubkey: &PublicKey) -> Self {
        let digest = sha256(pubkey.as_bytes());
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        Self(out)
    }

    /// The raw 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The text form on `network`: bech32m with the network's prefix.
    pub fn encode(&self, network: Network) -> String {
        self.text(network).to_string()
    }

    /// The text form on `network`, to format without an allocation.
    pub fn text(&self, network: Network) -> AddressText {
        AddressText {
            address: *self,
            network,
        }
    }

    /// Parses an address of any network, returning the network too.
    ///
    /// # Errors
    /// [`AddressError`]: bad encoding or checksum, an unknown or old prefix,
    /// a wrong length.
    pub fn decode(text: &str) -> Result<(Network, Self), AddressError> {
        let checked = CheckedHrpstring::new::<Bech32m>(text.trim())
            .map_err(|e| AddressError::Encoding(e.to_string()))?;
        let hrp = checked.hrp();
        let network = Network::ALL
            .into_iter()
            .find(|n| hrp.as_str().eq_ignore_ascii_case(n.address_prefix()));
        let Some(network) = network else {
            if hrp.as_str().eq_ignore_ascii_case(OLD_ADDRESS_PREFIX) {
                return Err(AddressError::OldPrefix);
            }
            return Err(AddressError::WrongPrefix {
                found: hrp.to_string(),
            });
        };
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let arr: [u8; 20] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::WrongLength(bytes.len()))?;
        Ok((network, Self(arr)))
    }

    /// Parses an address that must be for `network`.
    ///
    /// # Errors
    /// [`AddressError::WrongNetwork`] naming both networks for an address
    /// of another network; otherwise as [`Address::decode`].
    pub fn parse(text: &str, network: Network) -> Result<Self, AddressError> {
        let (found, address) = Self::decode(text)?;
        if found != network {
            return Err(AddressError::WrongNetwork {
                found,
                expected: network,
            });
        }
        Ok(address)
    }
}

/// An address's text form on one network (see [`Address::text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressText {
    address: Address,
    network: Network,
}

impl fmt::Display for AddressText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(self.network.address_prefix());
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, hrp, &self.address.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Display for Address {
    /// The 20 bytes in hex: an address's text needs its network ([`Address::text`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// In JSON the 20 bytes are hex (a bare address has no network); reading
/// also takes the text form of any network.
impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            crate::hash::serialize_array(&self.0, s)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            let mut bytes = [0u8; 20];
            if hex::decode_to_slice(text.as_bytes(), &mut bytes).is_ok() {
                return Ok(Self(bytes));
            }
            Self::decode(&text)
                .map(|(_, a)| a)
                .map_err(serde::de::Error::custom)
        } else {
            crate::hash::deserialize_array(d).map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;

    #[test]
    fn text_roundtrip_per_network() {
        let kp = KeyPair::from_seed([9; 32]);
        let addr = kp.address();
        let t = addr.encode(Network::Testnet);
        let r = addr.encode(Network::Regtest);
        assert!(t.starts_with("rumortest1"), "{t}");
        assert!(r.starts_with("rumorreg1"), "{r}");
        assert_eq!(Address::parse(&t, Network::Testnet).unwrap(), addr);
        assert_eq!(Address::parse(&r, Network::Regtest).unwrap(), addr);
        assert_eq!(
            Address::parse(&t.to_uppercase(), Network::Testnet).unwrap(),
            addr
        );
        assert_eq!(Address::decode(&r).unwrap(), (Network::Regtest, addr));
        assert_eq!(addr.text(Network::Regtest).to_string(), r);
    }

    #[test]
    fn an_address_of_another_network_is_refused_naming_both() {
        let addr = KeyPair::from_seed([9; 32]).address();
        let t = addr.encode(Network::Testnet);
        let e = Address::parse(&t, Network::Regtest).unwrap_err();
        assert_eq!(
            e,
            AddressError::WrongNetwork {
                found: Network::Testnet,
                expected: Network::Regtest
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("testnet address") && msg.contains("network is regtest"),
            "{msg}"
        );
        // The prefix every network shared before is refused, not guessed.
        let old =
            bech32::encode::<Bech32m>(Hrp::parse(OLD_ADDRESS_PREFIX).unwrap(), &addr.0).unwrap();
        assert_eq!(Address::decode(&old), Err(AddressError::OldPrefix));
    }

    #[test]
    fn typed_parse_errors() {
        let text = Address([1; 20]).encode(Network::Testnet);
        // flip one character of the data part: checksum error
        let mut bad = text.clone().into_bytes();
        let i = bad.len() - 10;
        bad[i] = if bad[i] == b'q' { b'p' } else { b'q' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(matches!(
            Address::parse(&bad, Network::Testnet),
            Err(AddressError::Encoding(_))
        ));

        let other = bech32::encode::<Bech32m>(Hrp::parse("bc").unwrap(), &[1; 20]).unwrap();
        assert_eq!(
            Address::decode(&other),
            Err(AddressError::WrongPrefix { found: "bc".into() })
        );
        let hrp = Hrp::parse(Network::Regtest.address_prefix()).unwrap();
        let short = bech32::encode::<Bech32m>(hrp, &[1; 19]).unwrap();
        assert_eq!(Address::decode(&short), Err(AddressError::WrongLength(19)));
        // bech32 (not bech32m) checksum is rejected
        let old = bech32::encode::<bech32::Bech32>(hrp, &[1; 20]).unwrap();
        assert!(matches!(
            Address::decode(&old),
            Err(AddressError::Encoding(_))
        ));
        assert!(matches!(
            Address::decode(""),
            Err(AddressError::Encoding(_))
        ));
    }

    #[test]
    fn json_is_hex_and_reads_text_too() {
        let addr = Address([3; 20]);
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, format!("\"{}\"", "03".repeat(20)));
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), addr);
        let text = format!("\"{}\"", addr.encode(Network::Regtest));
        assert_eq!(serde_json::from_str::<Address>(&text).unwrap(), addr);
    }
}
