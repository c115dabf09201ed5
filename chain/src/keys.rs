//! ed25519 keys and signatures: [`KeyPair`], [`PublicKey`], [`Signature`].

use ed25519_dalek::Signer;

use crate::address::Address;

crate::hash::byte_newtype!(
    /// An ed25519 public key as its 32-byte compressed encoding. It is not
    /// checked when built; verification rejects invalid and weak keys.
    PublicKey,
    32
);
crate::hash::byte_newtype!(
    /// A 64-byte ed25519 signature (`R ‖ s`).
    Signature,
    64
);

impl PublicKey {
    /// The all-zero key, used in the coinbase input.
    pub const ZERO: Self = Self([0; 32]);
}

impl Signature {
    /// The all-zero signature: the blanked form used in the sighash.
    pub const ZERO: Self = Self([0; 64]);
}

/// An ed25519 signing key together with its public key and address.
#[derive(Clone)]
pub struct KeyPair {
    signing: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl KeyPair {
    /// Derives a key pair from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = PublicKey(signing.verifying_key().to_bytes());
        Self { signing, public }
    }

    /// Generates a fresh key pair from the operating system's randomness.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        Self::from_seed(seed)
    }

    /// The 32-byte secret seed. Keep it secret.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The address that this key can spend from.
    pub fn address(&self) -> Address {
        Address::from_pubkey(&self.public)
    }

    /// Signs a 32-byte message (a sighash).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.signing.sign(msg).to_bytes())
    }
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}
