//! `chainlab inspect DATA_DIR`: opens a store, rebuilds every node's chain from genesis with
//! full validation (links, proof of work, difficulty, timestamps, transactions, state roots),
//! replays its state, checks that the tip the store recorded is one of its valid blocks, and
//! reports each node's tip. chainlab writes nothing; sled has no read-only mode, so opening the
//! database may still rewrite sled's own files (recovery, snapshot).

use crate::store_sled::{open_existing, recorded_config, stored_nodes, SledStore};
use chainlab::chain::store::BlockStore;
use chainlab::config::Config;
use chainlab::NodeId;
use chainlab::{ChainState, Hash};
use std::path::Path;
use std::sync::Arc;

/// One node's verdict.
#[derive(Debug, Clone)]
pub struct NodeCheck {
    /// Node.
    pub node: NodeId,
    /// Height of the rebuilt best chain.
    pub height: u64,
    /// Its tip.
    pub tip: Hash,
    /// The tip the store recorded.
    pub stored_tip: Option<Hash>,
    /// Blocks in the rebuilt tree (genesis included).
    pub blocks: usize,
    /// What is wrong, if anything.
    pub problem: Option<String>,
}

/// The directory is not a chainlab store.
#[derive(Debug, thiserror::Error)]
#[error("{path} is not a chainlab store: {reason}")]
pub struct NotAStore {
    /// The directory.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Checks every node's chain in the store at `path`.
///
/// # Errors
/// [`NotAStore`] when the directory holds no chainlab database.
pub fn inspect(path: &Path) -> Result<Vec<NodeCheck>, NotAStore> {
    let not = |reason: String| NotAStore {
        path: path.display().to_string(),
        reason,
    };
    if !path.is_dir() {
        return Err(not("no such directory".into()));
    }
    let db = open_existing(path, 64).map_err(|e| not(e.to_string()))?;
    let text = recorded_config(&db, path)
        .map_err(|e| not(e.to_string()))?
        .ok_or_else(|| not("no chainlab config is recorded in it".into()))?;
    let cfg = Config::parse(&text, "<recorded config>", &[]).map_err(|e| not(e.to_string()))?;
    let params = Arc::new(cfg.chain_params());
    let genesis = (
        Arc::new(params.genesis_block()),
        Arc::new(params.genesis_state()),
    );
    let mut out = Vec::new();
    for node in stored_nodes(&db) {
        let store = match SledStore::open(&db, path, node) {
            Ok(s) => s,
            Err(e) => {
                out.push(NodeCheck {
                    node,
                    height: 0,
                    tip: Hash::ZERO,
                    stored_tip: None,
                    blocks: 0,
                    problem: Some(e.to_string()),
                });
                continue;
            }
        };
        let stored_tip = store.tip().ok().flatten();
        let check = match ChainState::rebuild(
            &store,
            params.clone(),
            genesis.clone(),
            None,
            chainlab::hash::HashKey::default(),
        ) {
            Ok(chain) => {
                let problem = match stored_tip {
                    Some(t) if !chain.contains(&t) => {
                        Some(format!("the recorded tip {t} is not a valid stored block"))
                    }
                    _ => chain.verify_replay().err(),
                };
                NodeCheck {
                    node,
                    height: chain.height(),
                    tip: chain.tip(),
                    stored_tip,
                    blocks: chain.block_count(),
                    problem,
                }
            }
            Err(e) => NodeCheck {
                node,
                height: 0,
                tip: Hash::ZERO,
                stored_tip,
                blocks: 0,
                problem: Some(format!("node {node}: {e}")),
            },
        };
        out.push(check);
    }
    Ok(out)
}
