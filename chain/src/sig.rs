//! Signature verification, one at a time and in batches, with the same answer.
//!
//! The reference is ed25519-dalek's `verify_strict`: it rejects small-order
//! (weak) public keys, small-order `R`, non-canonical `s` and non-canonical
//! `R` encodings, so a third party cannot malleate a valid signature.
//!
//! Batch verification checks a random linear combination of the signature
//! equations. On its own it would accept a few things `verify_strict`
//! rejects, so [`verify_batch`] first applies the same per-signature checks
//! that `verify_strict` makes before its equation (weak key, small-order or
//! non-canonical `R`, non-canonical `s`). When the batch equation fails it
//! falls back to verifying one by one, to name the first bad signature.
//!
//! One residual difference is inherent to cofactorless batch equations:
//! a key or `R` with a torsion component (not small-order, but not in the
//! prime-order subgroup) can satisfy the batch equation with probability
//! about 1/8 while failing `verify_strict`. Only a deliberately crafted key can
//! do this, and because the batch randomness is derived from the batch's
//! contents, every node verifying the same block computes the same answer.

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

use crate::keys::{PublicKey, Signature};

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// The public key is not a valid curve point encoding.
    #[error("public key is not a valid ed25519 point")]
    InvalidKey,
    /// The public key is a small-order (weak) point.
    #[error("public key is a weak (small-order) point")]
    WeakKey,
    /// The signature is malformed, non-canonical, or does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// One signature to check: `sig` by `key` over `msg`.
#[derive(Debug, Clone, Copy)]
pub struct SigCheck<'a> {
    /// The signed message (a sighash).
    pub msg: &'a [u8],
    /// The claimed signer.
    pub key: &'a PublicKey,
    /// The signature.
    pub sig: &'a Signature,
}

fn parse_key(key: &PublicKey) -> Result<VerifyingKey, SigError> {
    let vk = VerifyingKey::from_bytes(key.as_bytes()).map_err(|_| SigError::InvalidKey)?;
    if vk.is_weak() {
        return Err(SigError::WeakKey);
    }
    Ok(vk)
}

/// Verifies one signature exactly as `verify_strict` does.
///
/// # Errors
/// [`SigError`] naming why it failed.
pub fn verify_one(check: &SigCheck<'_>) -> Result<(), SigError> {
    let vk = parse_key(check.key)?;
    let sig = DalekSignature::from_bytes(check.sig.as_bytes());
    vk.verify_strict(check.msg, &sig)
        .map_err(|_| SigError::BadSignature)
}

/// The checks `verify_strict` makes on `R` and `s` before its equation.
fn precheck_signature(sig: &Signature) -> Result<(), SigError> {
    let bytes = sig.as_bytes();
    let r: [u8; 32] = bytes[..32].try_into().expect("64-byte signature");
    let s: [u8; 32] = bytes[32..].try_into().expect("64-byte signature");
    if bool::from(Scalar::from_canonical_bytes(s).is_none()) {
        return Err(SigError::BadSignature);
    }
    let point = CompressedEdwardsY(r)
        .decompress()
        .ok_or(SigError::BadSignature)?;
    // verify_strict compares R's canonical encoding with the given bytes.
    if point.is_small_order() || point.compress().to_bytes() != r {
        return Err(SigError::BadSignature);
    }
    Ok(())
}

/// Verifies many signatures at once. Gives the same answer as calling
/// [`verify_one`] on each (see the module docs for the one crafted-key caveat).
///
/// # Errors
/// The index of the first failing signature and why it failed.
pub fn verify_batch(checks: &[SigCheck<'_>]) -> Result<(), (usize, SigError)> {
    match checks {
        [] => return Ok(()),
        [one] => return verify_one(one).map_err(|e| (0, e)),
        _ => {}
    }
    let mut keys = Vec::with_capacity(checks.len());
    let mut sigs = Vec::with_capacity(checks.len());
    let mut msgs = Vec::with_capacity(checks.len());
    for (i, c) in checks.iter().enumerate() {
        keys.push(parse_key(c.key).map_err(|e| (i, e))?);
        precheck_signature(c.sig).map_err(|e| (i, e))?;
        sigs.push(DalekSignature::from_bytes(c.sig.as_bytes()));
        msgs.push(c.msg);
    }
    if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
        return Ok(());
    }
    for (i, c) in checks.iter().enumerate() {
        verify_one(c).map_err(|e| (i, e))?;
    }
    // The batch failed but every signature verifies alone: impossible for
    // honest input; treat as a failure of the first so nothing slips through.
    Err((0, SigError::BadSignature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;

    fn signed(n: usize) -> Vec<(Vec<u8>, PublicKey, Signature)> {
        (0..n)
            .map(|i| {
                let kp = KeyPair::from_seed([i as u8 + 1; 32]);
                let msg = vec![i as u8; 32];
                let sig = kp.sign(&msg);
                (msg, kp.public(), sig)
            })
            .collect()
    }

    fn checks(v: &[(Vec<u8>, PublicKey, Signature)]) -> Vec<SigCheck<'_>> {
        v.iter()
            .map(|(m, k, s)| SigCheck {
                msg: m,
                key: k,
                sig: s,
            })
            .collect()
    }

    #[test]
    fn batch_accepts_valid_and_names_the_bad_one() {
        let mut v = signed(10);
        assert_eq!(verify_batch(&checks(&v)), Ok(()));
        v[6].2.0[5] ^= 1;
        assert_eq!(verify_batch(&checks(&v)), Err((6, SigError::BadSignature)));
        v[6].2.0[5] ^= 1;
        v[3].0[0] ^= 1; // message changed
        assert_eq!(verify_batch(&checks(&v)), Err((3, SigError::BadSignature)));
    }

    #[test]
    fn weak_key_rejected_in_both_paths() {
        // The identity point (y = 1) is small-order.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let mut v = signed(3);
        v[1].1 = PublicKey(weak);
        assert_eq!(verify_one(&checks(&v)[1]), Err(SigError::WeakKey));
        assert_eq!(verify_batch(&checks(&v)), Err((1, SigError::WeakKey)));
    }

    #[test]
    fn non_canonical_s_rejected_in_both_paths() {
        let mut v = signed(3);
        // s + l is the classic malleation: same equation, non-canonical scalar.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, l_byte) in v[2].2.0[32..].iter_mut().zip(l) {
            let sum = *byte as u16 + l_byte as u16 + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(verify_one(&checks(&v)[2]), Err(SigError::BadSignature));
        assert_eq!(verify_batch(&checks(&v)), Err((2, SigError::BadSignature)));
    }

    #[test]
    fn small_order_r_rejected_in_both_paths() {
        // R = identity with s = k·a satisfies the cofactorless equation; verify_strict
        // rejects it because R is small-order. The batch path must agree.
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
        use sha2::{Digest, Sha512};
        let a = Scalar::from(12345u64);
        let pk = PublicKey((ED25519_BASEPOINT_POINT * a).compress().to_bytes());
        let mut r = [0u8; 32];
        r[0] = 1; // identity
        let msg = [7u8; 32];
        let mut h = Sha512::new();
        h.update(r);
        h.update(pk.as_bytes());
        h.update(msg);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let s = k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r);
        sig[32..].copy_from_slice(s.as_bytes());
        let sig = Signature(sig);
        let mut v = signed(2);
        v.push((msg.to_vec(), pk, sig));
        assert_eq!(verify_one(&checks(&v)[2]), Err(SigError::BadSignature));
        assert_eq!(verify_batch(&checks(&v)), Err((2, SigError::BadSignature)));
        // and the raw dalek batch would have accepted it:
        let keys: Vec<_> = v
            .iter()
            .map(|x| VerifyingKey::from_bytes(x.1.as_bytes()).unwrap())
            .collect();
        let sigs: Vec<_> = v
            .iter()
            .map(|x| DalekSignature::from_bytes(x.2.as_bytes()))
            .collect();
        let msgs: Vec<&[u8]> = v.iter().map(|x| x.0.as_slice()).collect();
        assert!(ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok());
    }

    #[test]
    fn invalid_key_encoding() {
        let mut v = signed(2);
        // y = 2 is not on the curve
        let mut bad = [0u8; 32];
        bad[0] = 2;
        v[0].1 = PublicKey(bad);
        assert_eq!(verify_batch(&checks(&v)), Err((0, SigError::InvalidKey)));
    }
}
