//! [`Address`]: 20 bytes of sha256(pubkey), written as bech32m text with a checksum.

use std::fmt;
use std::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};

use crate::hash::sha256;
use crate::keys::PublicKey;

/// The human-readable prefix of every rumor address (`rumor1...`).
pub const ADDRESS_HRP: &str = "rumor";

/// An address: the first 20 bytes of sha256 of an ed25519 public key.
///
/// Text form: bech32m (BIP 350) with the human-readable part `rumor`. The
/// checksum catches any error of up to four characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

/// Why an address text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not bech32m, or the checksum does not match.
    #[error("not a valid bech32m string: {0}")]
    Encoding(String),
    /// A valid bech32m string with another prefix.
    #[error("address prefix is `{found}`, expected `{ADDRESS_HRP}`")]
    WrongPrefix {
        /// The prefix found.
        found: String,
    },
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
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, hrp, &self.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let checked = CheckedHrpstring::new::<Bech32m>(s)
            .map_err(|e| AddressError::Encoding(e.to_string()))?;
        let hrp = checked.hrp();
        if !hrp.as_str().eq_ignore_ascii_case(ADDRESS_HRP) {
            return Err(AddressError::WrongPrefix {
                found: hrp.to_string(),
            });
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let arr: [u8; 20] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::WrongLength(bytes.len()))?;
        Ok(Self(arr))
    }
}

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
            text.parse().map_err(serde::de::Error::custom)
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
    fn text_roundtrip() {
        let kp = KeyPair::from_seed([9; 32]);
        let addr = kp.address();
        let text = addr.to_string();
        assert!(text.starts_with("rumor1"), "{text}");
        assert_eq!(text.parse::<Address>().unwrap(), addr);
        assert_eq!(text.to_uppercase().parse::<Address>().unwrap(), addr);
    }

    #[test]
    fn typed_parse_errors() {
        let text = Address([1; 20]).to_string();
        // flip one character of the data part: checksum error
        let mut bad = text.clone().into_bytes();
        let i = bad.len() - 10;
        bad[i] = if bad[i] == b'q' { b'p' } else { b'q' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(matches!(
            bad.parse::<Address>(),
            Err(AddressError::Encoding(_))
        ));

        let other = bech32::encode::<Bech32m>(Hrp::parse("bc").unwrap(), &[1; 20]).unwrap();
        assert_eq!(
            other.parse::<Address>(),
            Err(AddressError::WrongPrefix { found: "bc".into() })
        );
        let short = bech32::encode::<Bech32m>(Hrp::parse(ADDRESS_HRP).unwrap(), &[1; 19]).unwrap();
        assert_eq!(short.parse::<Address>(), Err(AddressError::WrongLength(19)));
        // bech32 (not bech32m) checksum is rejected
        let old =
            bech32::encode::<bech32::Bech32>(Hrp::parse(ADDRESS_HRP).unwrap(), &[1; 20]).unwrap();
        assert!(matches!(
            old.parse::<Address>(),
            Err(AddressError::Encoding(_))
        ));
        assert!(matches!(
            "".parse::<Address>(),
            Err(AddressError::Encoding(_))
        ));
    }

    #[test]
    fn json_uses_text_form() {
        let addr = Address([3; 20]);
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, format!("\"{addr}\""));
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), addr);
    }
}
