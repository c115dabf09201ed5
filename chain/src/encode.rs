//! The canonical binary encoding: bincode 2 with one fixed configuration.
//!
//! Every object id is a hash of this encoding, so decoding must be strict:
//! [`decode`] rejects input longer than the type's size limit before reading
//! it, rejects trailing bytes, and rejects any input that does not re-encode
//! to exactly the same bytes (non-minimal varints, for example). The decoder
//! never allocates more than the input could describe and never panics.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The one bincode configuration: little-endian, variable-length integers,
/// with a hard cap on the bytes any single decode may consume.
const fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<HARD_LIMIT>,
> {
    bincode::config::standard().with_limit::<HARD_LIMIT>()
}

/// No single decoded object may exceed this many bytes, whatever its type.
pub const HARD_LIMIT: usize = 32 * 1024 * 1024;

/// Why bytes could not be decoded into an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than the limit for this type.
    #[error("{len} bytes exceed the {limit}-byte limit")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// bincode could not decode the input (truncated, bad tag, out-of-range value…).
    #[error("malformed encoding: {0}")]
    Malformed(String),
    /// The object ended before the input did.
    #[error("{0} trailing bytes after the object")]
    TrailingBytes(usize),
    /// The input decodes, but is not the canonical encoding of what it decodes to.
    #[error("non-canonical encoding")]
    NonCanonical,
}

/// Encodes `value` canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, config())
        .expect("encoding into a Vec cannot fail for rumor's types")
}

/// Writes the canonical encoding of `value` into `out`, returning bytes written.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> usize {
    let before = out.len();
    bincode::serde::encode_into_std_write(value, out, config())
        .expect("writing into a Vec cannot fail");
    out.len() - before
}

/// The length of the canonical encoding of `value`.
pub fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    bincode::serde::encode_into_std_write(value, &mut c, config()).expect("counting cannot fail");
    c.0
}

/// Decodes a `T` from exactly `bytes`, which may be at most `limit` bytes long.
///
/// # Errors
/// See [`DecodeError`]: too large, malformed, trailing bytes, or non-canonical.
pub fn decode<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
) -> Result<T, DecodeError> {
    let limit = limit.min(HARD_LIMIT);
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    // Re-encoding is cheap (sha256-speed) and catches every non-canonical
    // form bincode accepts, whatever it is.
    let mut again = Vec::with_capacity(bytes.len());
    encode_into(&value, &mut again);
    if again != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// Decodes a `T` from the start of `bytes` (the rest may be anything) and
/// returns it with the number of bytes it took; those bytes must be its
/// canonical encoding.
///
/// # Errors
/// [`DecodeError`]: malformed or non-canonical.
pub fn decode_prefix<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, usize), DecodeError> {
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let mut again = Vec::with_capacity(used);
    encode_into(&value, &mut again);
    if again != bytes[..used] {
        return Err(DecodeError::NonCanonical);
    }
    Ok((value, used))
}

/// Appends `value` as the canonical configuration encodes a `u64`, `u32` or
/// length (bincode's varint): one byte up to 250, else a tag byte (251, 252,
/// 253) and 2, 4 or 8 little-endian bytes.
pub(crate) fn put_varint(out: &mut Vec<u8>, value: u64) {
    if value <= 250 {
        out.push(value as u8);
    } else if value <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(value as u16).to_le_bytes());
    } else if value <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(value as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// The length of [`put_varint`]'s encoding of `value`.
pub(crate) const fn varint_len(value: u64) -> usize {
    if value <= 250 {
        1
    } else if value <= u16::MAX as u64 {
        3
    } else if value <= u32::MAX as u64 {
        5
    } else {
        9
    }
}

/// Preallocation cap, in bytes, for a sequence whose length prefix says more.
const PREALLOC_BYTES: usize = 4096;

/// Deserializes a `Vec<T>` without trusting its length prefix for
/// preallocation: at most [`PREALLOC_BYTES`] are reserved up front, and the
/// vector grows only with elements actually decoded. (serde's own `Vec`
/// reserves up to 1 MiB on the prefix's word, whatever the input's length.)
/// Use it with `#[serde(deserialize_with = "crate::encode::bounded_vec")]`.
pub(crate) fn bounded_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct SeqVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for SeqVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let cap = seq
                .size_hint()
                .unwrap_or(0)
                .min(PREALLOC_BYTES / std::mem::size_of::<T>().max(1));
            let mut out = Vec::with_capacity(cap);
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(SeqVisitor(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_trailing_bytes() {
        let mut b = encode(&7u32);
        b.push(0);
        assert_eq!(decode::<u32>(&b, 100), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn rejects_non_minimal_varint() {
        // 5 as a u16-tagged varint (251, 5, 0) instead of the single byte 5.
        assert!(matches!(
            decode::<u32>(&[251, 5, 0], 100),
            Err(DecodeError::NonCanonical)
        ));
        assert_eq!(decode::<u32>(&[5], 100), Ok(5));
    }

    #[test]
    fn rejects_oversize_before_reading() {
        assert_eq!(
            decode::<Vec<u8>>(&[0; 11], 10),
            Err(DecodeError::TooLarge { len: 11, limit: 10 })
        );
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A Vec<u64> claiming u64::MAX elements, with no bytes behind it.
        let bytes = [253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode::<Vec<u64>>(&bytes, 100),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_bad_bool() {
        assert!(matches!(
            decode::<bool>(&[2], 10),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn varints_match_bincode() {
        for v in [
            0u64,
            1,
            250,
            251,
            255,
            65_535,
            65_536,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, encode(&v), "{v}");
            assert_eq!(varint_len(v), out.len(), "{v}");
            if let Ok(small) = u32::try_from(v) {
                assert_eq!(out, encode(&small), "{v} as u32");
            }
            if let Ok(len) = usize::try_from(v) {
                assert_eq!(out, encode(&len), "{v} as usize");
            }
        }
    }

    #[test]
    fn encoded_len_matches() {
        let v = vec![1u64, 300, 70000];
        assert_eq!(encoded_len(&v), encode(&v).len());
    }
}
