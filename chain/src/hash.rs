//! sha256d hashing and the 32-byte id newtypes ([`Txid`], [`BlockHash`], [`Hash256`]).

use sha2::{Digest, Sha256};

/// Single SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Double SHA-256 (`sha256(sha256(data))`), the hash behind every object id.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// Declares a newtype over a fixed-size byte array that prints and parses as
/// lowercase hex, and serializes as hex in human-readable formats (JSON) and
/// as raw bytes in binary formats (the canonical bincode encoding).
macro_rules! byte_newtype {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of the value in bytes.
            pub const LEN: usize = $len;

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Parses lowercase or uppercase hex of exactly `2 * LEN` digits.
            ///
            /// # Errors
            /// [`crate::HexError`] if the text has the wrong length or a non-hex digit.
            pub fn from_hex(text: &str) -> Result<Self, crate::HexError> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(text, &mut out).map_err(|source| crate::HexError {
                    what: stringify!($name),
                    source,
                })?;
                Ok(Self(out))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::HexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&hex::encode(self.0))
                } else {
                    crate::hash::serialize_array(&self.0, s)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    Self::from_hex(&text).map_err(serde::de::Error::custom)
                } else {
                    crate::hash::deserialize_array(d).map(Self)
                }
            }
        }
    };
}
pub(crate) use byte_newtype;

/// Serializes a byte array as a fixed-length tuple (no length prefix).
pub(crate) fn serialize_array<S: serde::Serializer, const N: usize>(
    bytes: &[u8; N],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeTuple;
    let mut t = s.serialize_tuple(N)?;
    for b in bytes {
        t.serialize_element(b)?;
    }
    t.end()
}

/// Deserializes a byte array written by [`serialize_array`].
pub(crate) fn deserialize_array<'de, D: serde::Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<[u8; N], D::Error> {
    struct V<const N: usize>;
    impl<'de, const N: usize> serde::de::Visitor<'de> for V<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{N} bytes")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut out = [0u8; N];
            for (i, b) in out.iter_mut().enumerate() {
                *b = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
    }
    d.deserialize_tuple(N, V::<N>)
}

byte_newtype!(
    /// A generic 32-byte sha256d digest (merkle roots, digests).
    Hash256,
    32
);
byte_newtype!(
    /// A transaction id: sha256d of the transaction's canonical encoding.
    Txid,
    32
);
byte_newtype!(
    /// A block id: sha256d of the block header's canonical encoding.
    BlockHash,
    32
);

impl Hash256 {
    /// The all-zero hash.
    pub const ZERO: Self = Self([0; 32]);

    /// sha256d of `data`.
    pub fn hash(data: &[u8]) -> Self {
        Self(sha256d(data))
    }
}

impl Txid {
    /// The all-zero id, used by the coinbase's null outpoint.
    pub const ZERO: Self = Self([0; 32]);

    /// The 8-byte short id used by mempool digests and compact blocks: the
    /// first 8 bytes of the txid, little-endian.
    pub fn short_id(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }
}

impl BlockHash {
    /// The all-zero hash, the `prev` of the genesis block.
    pub const ZERO: Self = Self([0; 32]);
}

/// Computes the merkle root of `leaves` the Bitcoin way: pairs are hashed
/// with sha256d, and an odd last element is paired with itself. The root of an
/// empty list is [`Hash256::ZERO`].
///
/// Bitcoin's duplicate-last-element rule makes `[a, b, c]` and `[a, b, c, c]`
/// share a root (CVE-2012-2459); block validation rejects duplicate txids, so
/// the ambiguity cannot be exploited.
pub fn merkle_root(leaves: impl IntoIterator<Item = [u8; 32]>) -> Hash256 {
    let mut level: Vec<[u8; 32]> = leaves.into_iter().collect();
    if level.is_empty() {
        return Hash256::ZERO;
    }
    let mut buf = [0u8; 64];
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            buf[..32].copy_from_slice(&pair[0]);
            buf[32..].copy_from_slice(pair.get(1).unwrap_or(&pair[0]));
            next.push(sha256d(&buf));
        }
        level = next;
    }
    Hash256(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256d_matches_known_vector() {
        // sha256d("hello") from Bitcoin's test vectors.
        assert_eq!(
            hex::encode(sha256d(b"hello")),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
    }

    #[test]
    fn hex_roundtrip_and_errors() {
        let id = Txid([7; 32]);
        assert_eq!(id.to_string().parse::<Txid>().unwrap(), id);
        assert!("zz".parse::<Txid>().is_err());
        assert!("00".parse::<Txid>().is_err());
    }

    #[test]
    fn json_is_hex_and_roundtrips() {
        let h = BlockHash([0xab; 32]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<BlockHash>(&json).unwrap(), h);
    }

    #[test]
    fn merkle_root_rules() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        assert_eq!(merkle_root([]), Hash256::ZERO);
        assert_eq!(merkle_root([a]).0, a);
        let mut ab = [0u8; 64];
        ab[..32].copy_from_slice(&a);
        ab[32..].copy_from_slice(&b);
        assert_eq!(merkle_root([a, b]).0, sha256d(&ab));
        // odd element pairs with itself
        assert_eq!(merkle_root([a, b, c]), merkle_root([a, b, c, c]));
        assert_ne!(merkle_root([a, b]), merkle_root([b, a]));
    }
}
