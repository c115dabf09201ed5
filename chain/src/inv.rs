//! [`Inv`]: an inventory item, a transaction or a block named by its typed
//! id. It is what nodes announce, request and report verdicts on.

use serde::{Deserialize, Serialize};

use crate::hash::{BlockHash, Txid};

/// The kind of a relayed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A transaction.
    Tx,
    /// A block.
    Block,
}

impl ObjectKind {
    /// A short lowercase label for logs and metrics.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Tx => "tx",
            Self::Block => "block",
        }
    }
}

/// An inventory item: a transaction by its txid or a block by its hash.
///
/// The canonical encoding is the kind's tag (0 or 1) and the 32 id bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Inv {
    /// A transaction.
    Tx(Txid),
    /// A block.
    Block(BlockHash),
}

impl Inv {
    /// Transaction or block.
    pub const fn kind(&self) -> ObjectKind {
        match self {
            Self::Tx(_) => ObjectKind::Tx,
            Self::Block(_) => ObjectKind::Block,
        }
    }

    /// The id's bytes.
    pub const fn id_bytes(&self) -> &[u8; 32] {
        match self {
            Self::Tx(t) => t.as_bytes(),
            Self::Block(b) => b.as_bytes(),
        }
    }

    /// The id as lowercase hex.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id_bytes())
    }

    /// The item of `kind` with id `bytes`.
    pub const fn new(kind: ObjectKind, bytes: [u8; 32]) -> Self {
        match kind {
            ObjectKind::Tx => Self::Tx(Txid(bytes)),
            ObjectKind::Block => Self::Block(BlockHash(bytes)),
        }
    }
}

impl std::fmt::Display for Inv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind().label(), self.id_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding every peer already speaks: the kind's tag, then the id.
    #[test]
    fn encodes_as_kind_tag_and_id() {
        let tx = Inv::Tx(Txid([7; 32]));
        let mut want = vec![0u8];
        want.extend_from_slice(&[7; 32]);
        assert_eq!(crate::encode(&tx), want);
        let block = Inv::Block(BlockHash([9; 32]));
        assert_eq!(crate::encode(&block)[0], 1);
        assert_eq!(crate::decode::<Inv>(&crate::encode(&block), 33), Ok(block));
        assert_eq!(Inv::new(ObjectKind::Block, [9; 32]), block);
        assert_eq!(block.kind(), ObjectKind::Block);
        assert!(crate::decode::<Inv>(&[2; 33], 33).is_err());
    }
}
