//! The peer-to-peer protocol messages, with the caps checked right after decoding.

use crate::block::{Block, SharedItem};
use crate::encoding;
use crate::hash::{Hash, TxId};
use crate::tx::Transaction;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most ids in one `inv` or `getdata`, and most transactions in one `txs` reply (a reply
/// answers one `getdata`).
pub const MAX_INV_ITEMS: usize = 5_000;
/// Most hashes in a block locator.
pub const MAX_LOCATOR: usize = 64;
/// Most blocks in one `blocks` reply.
pub const MAX_SYNC_BLOCKS: usize = 64;
/// Most consensus items (votes, evidence) in one `items` message. A vote encodes to about
/// 200 bytes and a piece of evidence to at most two headers (under 1 kB), so a full message
/// stays far below the frame limit.
pub const MAX_WIRE_ITEMS: usize = 1_024;

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
    /// `txs`: full transactions, in the order asked: the one reply to a `getdata`'s
    /// transaction ids (those the sender holds; split only where one message would pass the
    /// frame's byte limit), or a push of transactions nobody asked for (an attacker's). At
    /// most [`MAX_INV_ITEMS`].
    Txs(Vec<Arc<Transaction>>),
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
    /// `items`: consensus items (proof of stake: checkpoint votes, equivocation evidence),
    /// pushed whole to every neighbour that does not know them (they are small: no
    /// announcement round).
    Items(Vec<SharedItem>),
}

/// Message families, for statistics and for per-kind fault rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MsgKind {
    /// `block`.
    Block,
    /// `txs`.
    Tx,
    /// `inv`, `getdata`.
    Inventory,
    /// `getblocks`, `blocks`.
    Sync,
    /// `items` (proof of stake: votes, evidence).
    Item,
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
            WireMsg::Txs(_) => MsgKind::Tx,
            WireMsg::GetBlocks { .. } | WireMsg::Blocks { .. } => MsgKind::Sync,
            WireMsg::Items(_) => MsgKind::Item,
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
            WireMsg::Items(items) => cap("items", items.len(), MAX_WIRE_ITEMS),
            WireMsg::Txs(txs) => cap("txs", txs.len(), MAX_INV_ITEMS),
            WireMsg::Block(_) => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Item;
    use crate::block::{BlockHeader, Checkpoint, Evidence, Seal, Vote, VrfProof};
    use crate::crypto::Signature;
    use crate::net::frame::{decode_frame, encode_frame, Frame, FrameError};

    fn vote(i: u32) -> Vote {
        Vote {
            validator: i,
            source: Checkpoint {
                epoch: 0,
                hash: Hash([0; 32]),
            },
            target: Checkpoint {
                epoch: 1,
                hash: Hash([i as u8; 32]),
            },
            signature: Signature([7; 64]),
        }
    }

    fn header(slot: u64) -> BlockHeader {
        BlockHeader {
            version: crate::block::BLOCK_VERSION,
            parent: Hash([1; 32]),
            height: 1,
            tx_root: Hash([2; 32]),
            state_root: Hash([3; 32]),
            timestamp_ms: slot * 1000,
            miner: crate::crypto::Address::default(),
            seal: Seal::Pos {
                slot,
                proposer: 3,
                vrf: VrfProof {
                    output: [4; 32],
                    proof: [5; 64],
                },
                signature: Signature([6; 64]),
            },
        }
    }

    #[test]
    fn items_round_trip_through_a_frame_as_their_own_kind() {
        let evidence = Evidence::DoubleBlock {
            a: Box::new(header(5)),
            b: Box::new(header(6)),
        };
        let msg = WireMsg::Items(vec![
            Item::Vote(vote(1)).into(),
            Item::Evidence(evidence).into(),
            Item::Evidence(Evidence::DoubleVote {
                a: vote(2),
                b: vote(3),
            })
            .into(),
        ]);
        assert_eq!(msg.kind(), MsgKind::Item);
        // The sizes docs/pos.md quotes: a vote item, and an `items` message of one vote.
        assert_eq!(encoding::encoded_len(&Item::Vote(vote(1))), 152);
        assert_eq!(WireMsg::Items(vec![Item::Vote(vote(1)).into()]).size(), 164);
        let bytes = encode_frame(&Frame::Msg(msg.clone()));
        match decode_frame(&bytes) {
            Ok(Frame::Msg(back)) => assert_eq!(back, msg),
            other => panic!("{other:?}"),
        }
        let kind: MsgKind = toml::from_str::<toml::Table>("k = \"item\"")
            .ok()
            .and_then(|mut t| t.remove("k"))
            .and_then(|v| v.try_into().ok())
            .expect("`item` names the kind in fault rules");
        assert_eq!(kind, MsgKind::Item);
    }

    #[test]
    fn an_items_message_over_the_cap_is_refused_right_after_decoding() {
        let full = WireMsg::Items(vec![Item::Vote(vote(1)).into(); MAX_WIRE_ITEMS]);
        assert!(full.check_caps().is_ok());
        assert!(
            full.size() < crate::net::frame::MAX_FRAME_BYTES as u64 / 8,
            "a full message is small: {} bytes",
            full.size()
        );
        let over = WireMsg::Items(vec![Item::Vote(vote(1)).into(); MAX_WIRE_ITEMS + 1]);
        let e = over.check_caps().unwrap_err();
        assert_eq!(
            (e.what, e.count, e.max),
            ("items", MAX_WIRE_ITEMS + 1, MAX_WIRE_ITEMS)
        );
        let bytes = encode_frame(&Frame::Msg(over));
        assert!(matches!(decode_frame(&bytes), Err(FrameError::Cap(_))));
        // Truncated bytes of an items message do not decode (and do not panic).
        let good = encode_frame(&Frame::Msg(WireMsg::Items(
            vec![Item::Vote(vote(1)).into()],
        )));
        for cut in [1, good.len() / 2, good.len() - 1] {
            assert!(decode_frame(&good[..cut]).is_err());
        }
    }

    fn transfer(nonce: u64) -> Arc<Transaction> {
        let key = crate::crypto::KeyPair::from_seed(b"wire/txs");
        let to = crate::crypto::KeyPair::from_seed(b"wire/to").address();
        Arc::new(Transaction::new_signed(&key, 1, to, 5, 10, nonce))
    }

    #[test]
    fn a_txs_reply_carries_several_transactions_in_one_message_of_the_tx_kind() {
        let msg = WireMsg::Txs((0..3).map(transfer).collect());
        assert_eq!(msg.kind(), MsgKind::Tx);
        assert!(msg.check_caps().is_ok());
        let bytes = encode_frame(&Frame::Msg(msg.clone()));
        match decode_frame(&bytes) {
            Ok(Frame::Msg(back)) => assert_eq!(back, msg),
            other => panic!("{other:?}"),
        }
        // Fault rules still name the kind `tx`.
        let kind: MsgKind = toml::from_str::<toml::Table>("k = \"tx\"")
            .ok()
            .and_then(|mut t| t.remove("k"))
            .and_then(|v| v.try_into().ok())
            .expect("`tx` names the kind in fault rules");
        assert_eq!(kind, MsgKind::Tx);
    }

    #[test]
    fn a_txs_message_over_the_cap_is_refused_right_after_decoding() {
        let tx = transfer(0);
        let full = WireMsg::Txs(vec![tx.clone(); MAX_INV_ITEMS]);
        assert!(full.check_caps().is_ok());
        assert!(
            full.size() < crate::net::frame::TXS_REPLY_MAX_BYTES,
            "a full reply of transfers fits one frame: {} bytes",
            full.size()
        );
        let over = WireMsg::Txs(vec![tx; MAX_INV_ITEMS + 1]);
        let e = over.check_caps().unwrap_err();
        assert_eq!(
            (e.what, e.count, e.max),
            ("txs", MAX_INV_ITEMS + 1, MAX_INV_ITEMS)
        );
        let bytes = encode_frame(&Frame::Msg(over));
        assert!(matches!(decode_frame(&bytes), Err(FrameError::Cap(_))));
        // An empty reply breaks no cap (a peer may hold none of what was asked).
        assert!(WireMsg::Txs(Vec::new()).check_caps().is_ok());
    }
}
