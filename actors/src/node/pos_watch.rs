//! Proof of stake, seen from a node's best chain: which justified and finalized checkpoints
//! and which slashings it has reported (`justified`, `finalized`, `slashed` trace events).
//!
//! The chain actor asks [`PosWatch::observe`] after every tip change. A checkpoint is reported
//! when the best chain's justified (finalized) checkpoint reaches an epoch beyond every one
//! reported before, so a reorganisation back and forth reports nothing twice; a slashing is
//! reported when the best chain holds more of a validator's stake slashed (genesis stake minus
//! current stake) than reported so far. A node starts from what its loaded chain already
//! holds: a restart reports only what is new.

use chainlab::block::Checkpoint;
use chainlab::consensus::{Ancestry, BranchState};
use chainlab::report::{Event, FinalizedEvent};
use chainlab::ChainState;
use std::sync::Arc;

/// What the best chain's proof-of-stake state says, as far as the trace is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TipFacts {
    /// The latest justified checkpoint.
    pub justified: Checkpoint,
    /// The latest finalized checkpoint, and its block's height.
    pub finalized: (Checkpoint, u64),
    /// Current stakes by validator index (shared with the chain's state).
    pub stakes: Arc<Vec<u64>>,
}

impl TipFacts {
    /// The facts of `chain`'s tip; `None` when the chain keeps no proof-of-stake state.
    pub fn of_tip(chain: &ChainState) -> Option<TipFacts> {
        let tip = chain.tip();
        let BranchState::Pos(s) = Ancestry::branch_state(chain, &tip)? else {
            return None;
        };
        let finalized = s.ffg.finalized;
        let height = chain.get(&finalized.hash).map_or(0, |b| b.header.height);
        Some(TipFacts {
            justified: s.ffg.justified,
            finalized: (finalized, height),
            stakes: s.stakes.clone(),
        })
    }
}

/// See the module doc.
#[derive(Clone, Debug)]
pub struct PosWatch {
    /// Stakes at genesis, by validator index.
    genesis_stakes: Vec<u64>,
    justified_epoch: u64,
    finalized_epoch: u64,
    /// Stake reported slashed so far, by validator index.
    slashed: Vec<u64>,
    /// The stakes last observed: unchanged stakes (most tip changes) are not compared again.
    last_stakes: Option<Arc<Vec<u64>>>,
}

impl PosWatch {
    /// A watch that has reported what `start` (the loaded chain's tip) holds.
    pub fn new(genesis_stakes: Vec<u64>, start: &TipFacts) -> PosWatch {
        let mut w = PosWatch {
            genesis_stakes,
            justified_epoch: 0,
            finalized_epoch: 0,
            slashed: Vec::new(),
            last_stakes: None,
        };
        let _ = w.observe(start);
        w
    }

    /// The events the new best-chain facts call for (justified, then finalized, then
    /// slashings by validator index).
    pub fn observe(&mut self, now: &TipFacts) -> Vec<Event> {
        let mut out = Vec::new();
        if now.justified.epoch > self.justified_epoch {
            self.justified_epoch = now.justified.epoch;
            out.push(Event::Justified {
                epoch: now.justified.epoch,
                hash: now.justified.hash,
            });
        }
        let (fin, height) = now.finalized;
        if fin.epoch > self.finalized_epoch {
            self.finalized_epoch = fin.epoch;
            out.push(Event::Finalized(Box::new(FinalizedEvent {
                epoch: fin.epoch,
                hash: fin.hash,
                height,
            })));
        }
        if self
            .last_stakes
            .as_ref()
            .is_some_and(|last| Arc::ptr_eq(last, &now.stakes) || last == &now.stakes)
        {
            return out;
        }
        self.last_stakes = Some(now.stakes.clone());
        self.slashed.resize(self.genesis_stakes.len(), 0);
        let pairs = self.genesis_stakes.iter().zip(now.stakes.iter());
        for (i, ((&start, &stake), reported)) in pairs.zip(&mut self.slashed).enumerate() {
            let Ok(validator) = u32::try_from(i) else {
                break;
            };
            let lost = start.saturating_sub(stake);
            if lost > *reported {
                out.push(Event::Slashed {
                    validator,
                    amount: lost - *reported,
                });
                *reported = lost;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainlab::Hash;

    fn facts(j: u64, f: u64, stakes: &[u64]) -> TipFacts {
        let cp = |epoch: u64| Checkpoint {
            epoch,
            hash: Hash([epoch as u8; 32]),
        };
        TipFacts {
            justified: cp(j),
            finalized: (cp(f), 10 * f),
            stakes: Arc::new(stakes.to_vec()),
        }
    }

    fn names(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Justified { epoch, .. } => format!("justified {epoch}"),
                Event::Finalized(f) => format!("finalized {} h{}", f.epoch, f.height),
                Event::Slashed { validator, amount } => format!("slashed {validator} {amount}"),
                other => other.name().to_string(),
            })
            .collect()
    }

    #[test]
    fn progress_is_reported_once_and_a_restart_reports_only_what_is_new() {
        let mut w = PosWatch::new(vec![100, 100, 100], &facts(0, 0, &[100, 100, 100]));
        assert!(w.observe(&facts(0, 0, &[100, 100, 100])).is_empty());
        assert_eq!(
            names(&w.observe(&facts(1, 0, &[100, 100, 100]))),
            ["justified 1"]
        );
        assert_eq!(
            names(&w.observe(&facts(2, 1, &[100, 50, 100]))),
            ["justified 2", "finalized 1 h10", "slashed 1 50"]
        );
        // A reorganisation to a branch that justified less, then back: nothing new.
        assert!(w.observe(&facts(1, 0, &[100, 100, 100])).is_empty());
        assert!(w.observe(&facts(2, 1, &[100, 50, 100])).is_empty());
        // Evidence against a validator already slashed changes nothing; a second slashing
        // of more stake reports the difference.
        assert_eq!(
            names(&w.observe(&facts(2, 1, &[100, 25, 100]))),
            ["slashed 1 25"]
        );
        // A restarted node starts from its loaded tip.
        let mut r = PosWatch::new(vec![100, 100, 100], &facts(2, 1, &[100, 50, 100]));
        assert_eq!(
            names(&r.observe(&facts(3, 2, &[100, 50, 100]))),
            ["justified 3", "finalized 2 h20"]
        );
    }
}
