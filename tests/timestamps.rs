//! Timestamp games against difficulty retargeting (issue 9, attack 2), with the real rules:
//! - no block at or before its parent's median time past, genesis included, so no branch can
//!   claim time from before the chain's launch;
//! - the time-warp rule: a block that ends a retarget window is not older than the window's
//!   first block, so window spans add up to at most the time since genesis;
//! - the bound `docs/design.md` derives from them: after any number of retargets, difficulty is
//!   at least `D0 · exp(-S / (e · E))`, S the time claimed since genesis (at most the elapsed
//!   time plus the allowed drift), E the expected duration of the shortest window.

use chainlab::block::{Block, BlockHeader, Seal};
use chainlab::chain::params::ChainParams;
use chainlab::chain::validation::{check_block, BlockError};
use chainlab::chain::{ChainState, ImportOutcome};
use chainlab::consensus::pow::{grind, Pow};
use chainlab::consensus::{Ancestry, Consensus, Engine, SealError, SealRule};
use chainlab::crypto::Address;
use chainlab::hash::Hash;
use proptest::prelude::*;
use std::sync::Arc;

/// 2025-12-01T00:00:00Z, in Unix ms: the chain's launch in these tests.
const GENESIS: u64 = 1_764_547_200_000;
const INTERVAL: u64 = 1_000;
const WINDOW: u64 = 10;
const D0: u64 = 64;
/// The initial difficulty of the engine-only property test (no grinding there, so large
/// enough that integer rounding is negligible).
const BIG: u64 = 1 << 40;
const ATTACKER: Address = Address([0xa7; 20]);
const HONEST: Address = Address([0x40; 20]);

fn pow() -> Pow {
    Pow {
        block_interval_ms: INTERVAL,
        retarget_interval: WINDOW,
        initial_difficulty: D0,
        time_warp_fix: true,
    }
}

fn params() -> Arc<ChainParams> {
    let mut p = ChainParams::for_tests(Vec::new());
    p.engine = Engine::Pow(pow());
    p.genesis_time_ms = GENESIS;
    Arc::new(p)
}

fn difficulty(chain: &ChainState, parent: &Hash) -> u64 {
    match chain.next_rule(parent) {
        SealRule::Pow { difficulty } => difficulty,
        SealRule::Pos(_) => panic!("a proof-of-work chain"),
    }
}

/// A block on `chain`'s tip stamped `ts` (whatever the rules say), sealed.
fn block_at(chain: &mut ChainState, miner: Address, ts: u64) -> Block {
    let mut b = chain
        .build_block(&[], Vec::new(), miner, ts)
        .expect("the reward fits");
    b.header.timestamp_ms = ts;
    grind(&mut b.header, 0, u64::MAX).expect("a nonce exists");
    b
}

fn import(chain: &mut ChainState, b: &Block, now: u64) -> Result<ImportOutcome, BlockError> {
    let checked = check_block(Arc::new(b.clone()), chain.params(), None)?;
    chain.import(checked, now, 0)
}

/// The lower bound on difficulty after a branch claimed `claimed_ms` since genesis
/// (`docs/design.md`, "Timestamps and retargeting"), with E the first window's expected span
/// (the shortest: it excludes genesis), less one per retarget for integer rounding.
fn floor(d0: u64, claimed_ms: u64, retargets: u64) -> f64 {
    let e = ((WINDOW - 2) * INTERVAL) as f64;
    d0 as f64 * (-(claimed_ms as f64) / (std::f64::consts::E * e)).exp() - retargets as f64
}

/// An honest chain of `n` blocks, one per interval from genesis; returns it and "now".
fn honest(n: u64) -> (ChainState, u64) {
    let mut chain = ChainState::new(params());
    for i in 1..=n {
        let b = block_at(&mut chain, HONEST, GENESIS + i * INTERVAL);
        import(&mut chain, &b, GENESIS + i * INTERVAL).expect("honest block");
    }
    (chain, GENESIS + n * INTERVAL)
}

#[test]
fn a_branch_stamped_in_1970_is_refused_at_its_first_block() {
    // The measured attack: a branch from genesis stamped in 1970, 20 s apart.
    let (mut victim, now) = honest(13);
    let mut attacker = ChainState::new(params());
    let b = block_at(&mut attacker, ATTACKER, 20_000);
    let err = import(&mut victim, &b, now).unwrap_err();
    assert_eq!(
        err,
        BlockError::TimestampTooOld {
            ts: 20_000,
            median: GENESIS
        }
    );
    assert!(err.is_peer_fault(), "breaking the rule is an offence");
    assert!(err.to_string().contains("median past time"), "{err}");
    // Genesis counts in the median: a first block at genesis time is refused too...
    let b = block_at(&mut attacker, ATTACKER, GENESIS);
    assert!(matches!(
        import(&mut victim, &b, now),
        Err(BlockError::TimestampTooOld { .. })
    ));
    // ... and one just after it is fine.
    let b = block_at(&mut attacker, ATTACKER, GENESIS + 1);
    import(&mut victim, &b, now).expect("later than genesis");
}

#[test]
fn a_slow_stamped_branch_cannot_outrun_the_clock_and_its_difficulty_stays_above_the_bound() {
    // The attack shape within the genesis rule: 59 blocks from genesis, 20 s apart, sent when
    // the honest chain is 13 blocks tall (13 s after launch).
    let (mut victim, now) = honest(13);
    let honest_tip = victim.tip();
    let mut attacker = ChainState::new(params());
    let max_future = victim.params().max_future_ms;
    let mut accepted = 0;
    let mut lowest = u64::MAX;
    for i in 1..=59u64 {
        let ts = GENESIS + i * 20_000;
        let b = block_at(&mut attacker, ATTACKER, ts);
        match import(&mut victim, &b, now) {
            Ok(_) => {
                accepted += 1;
                lowest = lowest.min(b.header.difficulty());
                import(&mut attacker, &b, ts).expect("valid for the attacker");
            }
            Err(e) => {
                assert_eq!(
                    e,
                    BlockError::TimestampTooNew {
                        ts,
                        now,
                        max_ahead: max_future
                    }
                );
                assert!(!e.is_peer_fault(), "our clock may be the wrong one");
                break;
            }
        }
    }
    // Only what fits before now + 15 s: the block 20 s after launch.
    assert_eq!(accepted, 1);
    assert_eq!(lowest, D0);
    assert_eq!(victim.tip(), honest_tip);

    // The best the rules allow: the first window stretched to the drift limit, every later
    // window end pushed as late as the clock allows (here: no later).
    let mut attacker = ChainState::new(params());
    let limit = now + max_future;
    let mut lowest = u64::MAX;
    for h in 1..=59u64 {
        let tip = attacker.tip();
        let mtp = attacker.median_time_past(tip);
        let ts = if pow().ends_window(h) { limit } else { mtp + 1 };
        let b = block_at(&mut attacker, ATTACKER, ts);
        import(&mut victim, &b, now).expect("within every rule");
        import(&mut attacker, &b, now).expect("within every rule");
        lowest = lowest.min(b.header.difficulty());
    }
    let bound = floor(D0, limit - GENESIS, 5);
    assert!(
        lowest as f64 >= bound,
        "difficulty {lowest} fell below the bound {bound:.1}"
    );
    // One retarget stretched 28 s over 8 expected: 64 · 8 / 28 = 18; then the clock stops it.
    assert_eq!(lowest, D0 * 8_000 / (limit - GENESIS - 1));
    assert!(
        difficulty(&attacker, &attacker.tip()) > D0,
        "windows that claim no time raise the difficulty"
    );
}

#[test]
fn the_time_warp_sawtooth_is_refused_at_the_first_window_end_that_goes_back() {
    // Interior blocks at the median time past + 1, window ends alternately late and early:
    // without the time-warp rule each early end would give the next window a fresh span.
    let (mut victim, now) = honest(1);
    let late = now + victim.params().max_future_ms;
    let mut attacker = ChainState::new(params());
    let mut ends = 0;
    for h in 1..=40u64 {
        let tip = attacker.tip();
        let mtp = attacker.median_time_past(tip);
        let ts = if pow().ends_window(h) {
            ends += 1;
            if ends % 2 == 1 {
                late
            } else {
                mtp + 1
            }
        } else {
            mtp + 1
        };
        let b = block_at(&mut attacker, ATTACKER, ts);
        match import(&mut victim, &b, now) {
            Ok(_) => {
                import(&mut attacker, &b, now).expect("valid");
            }
            Err(e) => {
                assert_eq!(h, 19, "the second window end");
                let start = attacker
                    .get(&attacker.canonical()[9])
                    .expect("stored")
                    .header
                    .timestamp_ms;
                assert_eq!(
                    e,
                    BlockError::Seal(SealError::TimeWarp {
                        ts,
                        window_start: start
                    })
                );
                assert!(e.is_peer_fault());
                assert!(e.to_string().contains("time-warp"), "{e}");
                // The template a miner builds obeys the rule.
                let t = attacker
                    .build_block(&[], Vec::new(), HONEST, mtp + 1)
                    .unwrap();
                assert_eq!(t.header.timestamp_ms, start);
                return;
            }
        }
    }
    panic!("the sawtooth was never refused");
}

/// A linear chain of headers for the engine alone (no proof of work to grind).
struct Headers(Vec<BlockHeader>);

fn id(height: u64) -> Hash {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&height.to_le_bytes());
    h[8] = 1;
    Hash(h)
}

impl Ancestry for Headers {
    fn header(&self, hash: &Hash) -> Option<&BlockHeader> {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hash.0[..8]);
        self.0.get(u64::from_le_bytes(w) as usize)
    }
    fn ancestor(&self, hash: &Hash, height: u64) -> Option<Hash> {
        let top = self.header(hash)?.height;
        (height <= top).then(|| id(height))
    }
}

impl Headers {
    fn push(&mut self, ts: u64, difficulty: u64) {
        let height = self.0.len() as u64;
        self.0.push(BlockHeader {
            version: 1,
            parent: if height == 0 {
                Hash::ZERO
            } else {
                id(height - 1)
            },
            height,
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            timestamp_ms: ts,
            miner: Address::default(),
            seal: Seal::Pow {
                difficulty,
                nonce: 0,
            },
        });
    }
    /// Median of the last 11 timestamps, genesis included (the chain's rule).
    fn mtp(&self) -> u64 {
        let mut ts: Vec<u64> = self
            .0
            .iter()
            .rev()
            .take(11)
            .map(|h| h.timestamp_ms)
            .collect();
        ts.sort_unstable();
        ts[ts.len() / 2]
    }
}

/// How an adversary picks each timestamp within the rules.
#[derive(Clone, Debug)]
enum Pick {
    /// The earliest valid.
    Earliest,
    /// The latest valid (the drift limit).
    Latest,
    /// A fraction of the way between them (per mille).
    Between(u16),
}

/// One block of an adversarial schedule: how far the clock moves first, and how the block's
/// timestamp is picked if it ends a retarget window and if it does not.
type Step = (u64, Pick, Pick);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let pick = || {
        prop_oneof![
            Just(Pick::Earliest),
            Just(Pick::Latest),
            (0u16..=1000).prop_map(Pick::Between),
        ]
    };
    let advance = prop_oneof![Just(0u64), 0u64..3 * INTERVAL];
    prop::collection::vec((advance, pick(), pick()), 1..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever valid timestamps a branch carries, while real time advances however it does:
    /// each retarget moves the difficulty by at most ×4 either way, and the difficulty never
    /// falls below `D0 · exp(-S / (e · E))` (less one per retarget for integer rounding).
    #[test]
    fn no_valid_timestamps_move_difficulty_past_the_bound(
        steps in steps(),
        drift in 0u64..120_000,
        sawtooth in prop::option::of(2u64..6),
    ) {
        let engine = Pow { initial_difficulty: BIG, ..pow() };
        let mut chain = Headers(Vec::new());
        chain.push(GENESIS, BIG);
        let mut now = GENESIS;
        let mut retargets = 0;
        let mut max_ts = GENESIS;
        let mut ends = 0;
        let mut log: Vec<String> = Vec::new();
        for (advance, at_end, inside) in steps {
            now += advance;
            let height = chain.0.len() as u64;
            let parent = id(height - 1);
            let earliest = (chain.mtp() + 1).max(engine.earliest_timestamp(&chain, &parent));
            let latest = now + drift;
            if earliest > latest {
                continue; // nothing valid yet: wait for the clock
            }
            let pick = match (engine.ends_window(height), sawtooth) {
                (false, None) => inside,
                (true, None) => at_end,
                // The time-warp pattern: interior blocks as early as allowed, window ends
                // climbing to the latest allowed in k - 1 steps, then back as far as allowed.
                (false, Some(_)) => Pick::Earliest,
                (true, Some(k)) => {
                    ends += 1;
                    match ends % k {
                        0 => Pick::Earliest,
                        j => Pick::Between((1000 * j / (k - 1)) as u16),
                    }
                }
            };
            let ts = match pick {
                Pick::Earliest => earliest,
                Pick::Latest => latest,
                Pick::Between(f) => earliest + (latest - earliest) * u64::from(f) / 1000,
            };
            let old = chain.0.last().unwrap().difficulty();
            let new = engine.next_difficulty(&chain, &parent);
            if new != old {
                retargets += 1;
                let w = chain.0[engine.window_start(height - 1) as usize].timestamp_ms;
                let e = chain.0[height as usize - 1].timestamp_ms;
                log.push(format!(
                    "height {height}: {old} -> {new}, window {} .. {} ms after genesis",
                    w - GENESIS,
                    e - GENESIS
                ));
            }
            prop_assert!(u128::from(new) <= u128::from(old) * 4 && new >= old / 4, "{old} -> {new}");
            chain.push(ts, new);
            max_ts = max_ts.max(ts);
            let bound = floor(BIG, max_ts - GENESIS, retargets);
            prop_assert!(
                new as f64 >= bound,
                "difficulty {new} below the bound {bound:.2} after {} ms claimed\n{}",
                max_ts - GENESIS, log.join("\n")
            );
        }
    }
}

#[test]
fn without_the_time_warp_rule_the_sawtooth_would_drive_difficulty_to_one() {
    // The arithmetic the rule prevents: window ends 40 s later, 40 s later again, then back
    // to the first (span 0), over and over, with no clock progress.
    let mut d = D0;
    let mut lowest = d;
    for w in 0..40 {
        let span = if w % 3 == 2 { 0 } else { 40_000 };
        d = chainlab::consensus::pow::retarget(d, WINDOW, INTERVAL, span);
        lowest = lowest.min(d);
    }
    assert_eq!(lowest, 1, "two quarterings per quadrupling");
}
