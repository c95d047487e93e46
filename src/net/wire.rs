//! The peer-to-peer protocol messages, with the caps checked right after decoding.

use crate::block::Block;
use crate::encoding;
use crate::hash::{Hash, TxId};
use crate::tx::Transaction;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most ids in one `inv` or `getdata`.
pub const MAX_INV_ITEMS: usize = 5_000;
/// Most hashes in a block locator.
pub const MAX_LOCATOR: usize = 64;
/// Most blocks in one `blocks` reply.
pub const MAX_SYNC_BLOCKS: usize = 64;

/// One protocol message between two nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireMsg {
    /// `inv`: ids of blocks and transactions the sender has validated and offers.
    Inv {
        /// Block hashes.
        blocks: Vec<Hash>,
        /// Transaction ids.
        txs: Vec<TxId>,
    },
    /// `getdata`: ids the sender wants in full.
    GetData {
        /// Block hashes.
        blocks: Vec<Hash>,
        /// Transaction ids.
        txs: Vec<TxId>,
    },
    /// `block`: one full block.
    Block(Arc<Block>),
    /// `tx`: one full transaction.
    Tx(Arc<Transaction>),
    /// `getblocks`: catch-up request: best-chain blocks after the first locator hash known.
    GetBlocks {
        /// Hashes from the requester's tip back to genesis.
        locator: Vec<Hash>,
    },
    /// `blocks`: reply to `getblocks`, parents first.
    Blocks {
        /// The blocks.
        blocks: Vec<Arc<Block>>,
        /// The sender has more best-chain blocks after these (ask again).
        more: bool,
    },
}

/// Message families, for statistics and for per-kind fault rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MsgKind {
    /// `block`.
    Block,
    /// `tx`.
    Tx,
    /// `inv`, `getdata`.
    Inventory,
    /// `getblocks`, `blocks`.
    Sync,
}

/// A message breaks a protocol cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} holds {count} items, more than the cap {max}")]
pub struct CapError {
    /// Which list.
    pub what: &'static str,
    /// Its length.
    pub count: usize,
    /// The cap.
    pub max: usize,
}

/// A sync reply whose blocks do not form one chain, parents first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync reply block {index} does not connect to the block before it")]
pub struct LinkError {
    /// Position of the first block that does not connect.
    pub index: usize,
}

fn cap(what: &'static str, count: usize, max: usize) -> Result<(), CapError> {
    if count > max {
        return Err(CapError { what, count, max });
    }
    Ok(())
}

impl WireMsg {
    /// The message's family.
    pub fn kind(&self) -> MsgKind {
        match self {
            WireMsg::Inv { .. } | WireMsg::GetData { .. } => MsgKind::Inventory,
            WireMsg::Block(_) => MsgKind::Block,
            WireMsg::Tx(_) => MsgKind::Tx,
            WireMsg::GetBlocks { .. } | WireMsg::Blocks { .. } => MsgKind::Sync,
        }
    }

    /// Encoded size in bytes (for bandwidth models).
    pub fn size(&self) -> u64 {
        encoding::encoded_len(self)
    }

    /// Checks every list against its cap.
    ///
    /// # Errors
    /// The first list over its cap.
    pub fn check_caps(&self) -> Result<(), CapError> {
        match self {
            WireMsg::Inv { blocks, txs } | WireMsg::GetData { blocks, txs } => {
                cap("inventory", blocks.len() + txs.len(), MAX_INV_ITEMS)
            }
            WireMsg::GetBlocks { locator } => cap("locator", locator.len(), MAX_LOCATOR),
            WireMsg::Blocks { blocks, .. } => cap("blocks", blocks.len(), MAX_SYNC_BLOCKS),
            WireMsg::Block(_) | WireMsg::Tx(_) => Ok(()),
        }
    }

    /// Checks that a `blocks` reply is one chain, each block the child of the one before.
    ///
    /// # Errors
    /// The first block that does not connect.
    pub fn check_links(&self) -> Result<(), LinkError> {
        let WireMsg::Blocks { blocks, .. } = self else {
            return Ok(());
        };
        for (i, pair) in blocks.windows(2).enumerate() {
            let (parent, child) = (&pair[0], &pair[1]);
            if child.header.parent != parent.hash()
                || parent.header.height.checked_add(1) != Some(child.header.height)
            {
                return Err(LinkError { index: i + 1 });
            }
        }
        Ok(())
    }
}
