//! Proof of work, the first consensus engine: the target test, work, difficulty retargeting,
//! nonce grinding and the modelled time to the next block.

use super::{Ancestry, Consensus, Effort, Plan, Producer, SealError, SealRule};
use crate::block::{BlockHeader, Seal};
use crate::crypto::KeyPair;
use crate::hash::Hash;
use rand::RngCore;
use rand_distr::{Distribution, Exp};

/// Proof-of-work parameters: the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pow {
    /// Target block interval, milliseconds.
    pub block_interval_ms: u64,
    /// Retarget every this many blocks (0 = never).
    pub retarget_interval: u64,
    /// Difficulty of the blocks after genesis until the first retarget.
    pub initial_difficulty: u64,
    /// chainlab's retargeting (true): consecutive windows share their boundary block and a
    /// window end may not be older than its start ([`Pow::earliest_child_timestamp`]). False:
    /// Bitcoin's original rules, to measure the time warp against: windows of n blocks that
    /// do not overlap, each measured from its first block to its last (n − 1 intervals against
    /// an expected n · `block_interval_ms`, Bitcoin's off-by-one), and no window-end rule.
    pub time_warp_fix: bool,
}

impl Pow {
    /// The difficulty a child of `parent` must carry: the parent's, except at every
    /// `retarget_interval`-th height, where [`retarget`] scales it by how long the window took.
    ///
    /// The window of the retarget at height `h` runs from its start (see
    /// [`Pow::window_start`]) to the parent, the window's end: with `time_warp_fix`
    /// consecutive windows share their boundary block, so the spans add up to the time between
    /// their outer ends (no Bitcoin off-by-one time warp); without it the window is the n
    /// blocks `h − n ..= h − 1` and its span is expected to be n block intervals (Bitcoin). The
    /// span is computed saturating: timestamps that go backwards give span 0, which the clamp
    /// turns into the largest increase, never an underflow.
    pub fn next_difficulty(&self, chain: &dyn Ancestry, parent: &Hash) -> u64 {
        let Some(p) = chain.header(parent) else {
            return self.initial_difficulty;
        };
        let h = p.height + 1;
        let n = self.retarget_interval;
        if p.height == 0 {
            return self.initial_difficulty;
        }
        let parent_diff = p.difficulty();
        if n == 0 || h % n != 0 {
            return parent_diff;
        }
        let first_height = self.window_start(p.height);
        let Some(first) = chain
            .ancestor(parent, first_height)
            .and_then(|f| chain.header(&f))
        else {
            return parent_diff;
        };
        let span = p.timestamp_ms.saturating_sub(first.timestamp_ms);
        let intervals = if self.time_warp_fix {
            p.height - first_height
        } else {
            n
        };
        retarget(parent_diff, intervals, self.block_interval_ms, span)
    }

    /// True when the block at `height` ends a retarget window (its child retargets).
    pub fn ends_window(&self, height: u64) -> bool {
        let n = self.retarget_interval;
        n != 0 && height >= 1 && (height + 1).is_multiple_of(n)
    }

    /// The first block of the window that ends at `end`: the previous window's end
    /// (`end - n`), or block 1 for the first window (genesis is excluded: it carries no mining
    /// time). Without `time_warp_fix`: the block after the previous window's end
    /// (`end + 1 - n`), and again block 1 for the first window.
    pub fn window_start(&self, end: u64) -> u64 {
        let n = self.retarget_interval;
        if !self.time_warp_fix {
            return end.saturating_add(1).saturating_sub(n).max(1).min(end);
        }
        if end > n {
            end - n
        } else {
            1.min(end)
        }
    }

    /// The time-warp rule: a block that ends a retarget window may not be older than the
    /// block that started it (the previous window's end). So window ends never go backwards,
    /// the spans of consecutive windows add up to at most the time since genesis, and
    /// timestamps cannot be reused to lower the difficulty again and again (the overlapping
    /// windows' form of Bitcoin's BIP 94 rule; see `docs/design.md`). Returns the earliest
    /// timestamp a child of `parent` may carry under this rule (0 when it does not apply,
    /// and always 0 without `time_warp_fix`).
    pub fn earliest_child_timestamp(&self, chain: &dyn Ancestry, parent: &Hash) -> u64 {
        if !self.time_warp_fix {
            return 0;
        }
        let Some(p) = chain.header(parent) else {
            return 0;
        };
        let h = p.height + 1;
        if !self.ends_window(h) {
            return 0;
        }
        let start = self.window_start(h);
        if start >= h {
            return 0;
        }
        chain
            .ancestor(parent, start)
            .and_then(|a| chain.header(&a))
            .map_or(0, |a| a.timestamp_ms)
    }
}

impl Consensus for Pow {
    fn name(&self) -> &'static str {
        "pow"
    }

    fn genesis_seal(&self, chain_id: u32) -> Seal {
        Seal::Pow {
            difficulty: self.initial_difficulty,
            nonce: u64::from(chain_id),
        }
    }

    fn check_seal(&self, header: &BlockHeader, hash: &Hash) -> Result<(), SealError> {
        let Seal::Pow { difficulty, .. } = header.seal else {
            return Err(SealError::WrongEngine {
                engine: "pow",
                got: "pos",
            });
        };
        if meets_difficulty(hash, difficulty) {
            Ok(())
        } else {
            Err(SealError::BadPow {
                hash: *hash,
                difficulty,
            })
        }
    }

    fn rule_for_child(&self, chain: &dyn Ancestry, parent: &Hash) -> SealRule {
        SealRule::Pow {
            difficulty: self.next_difficulty(chain, parent),
        }
    }

    fn check_against_parent(
        &self,
        chain: &dyn Ancestry,
        header: &BlockHeader,
    ) -> Result<(), SealError> {
        let expected = self.next_difficulty(chain, &header.parent);
        let got = header.difficulty();
        if got != expected {
            return Err(SealError::BadDifficulty { expected, got });
        }
        let earliest = self.earliest_child_timestamp(chain, &header.parent);
        if header.timestamp_ms < earliest {
            return Err(SealError::TimeWarp {
                ts: header.timestamp_ms,
                window_start: earliest,
            });
        }
        Ok(())
    }

    fn earliest_timestamp(&self, chain: &dyn Ancestry, parent: &Hash) -> u64 {
        self.earliest_child_timestamp(chain, parent)
    }

    fn weight(&self, header: &BlockHeader) -> u128 {
        work(header.difficulty())
    }

    fn template_seal(&self, rule: &SealRule) -> Seal {
        let difficulty = match rule {
            SealRule::Pow { difficulty } => *difficulty,
            SealRule::Pos(_) => self.initial_difficulty,
        };
        Seal::Pow {
            difficulty,
            nonce: 0,
        }
    }

    fn plan(&self, rule: &SealRule, producer: &Producer<'_>, rng: &mut dyn RngCore) -> Plan {
        let SealRule::Pow { difficulty } = *rule else {
            return Plan::Idle;
        };
        if producer.power <= 0.0 {
            return Plan::Idle;
        }
        match producer.effort {
            Effort::Real => Plan::Search,
            Effort::Modelled => mining_delay_ms(
                producer.power,
                self.initial_difficulty,
                difficulty,
                self.block_interval_ms,
                rng,
            )
            .map_or(Plan::Idle, |delay_ms| Plan::After { delay_ms }),
        }
    }

    fn seal(
        &self,
        _rule: &SealRule,
        header: &mut BlockHeader,
        _key: &KeyPair,
        start: u64,
        tries: u64,
    ) -> bool {
        grind(header, start, tries).is_some()
    }
}

/// Time until a miner with `share` of the hash power finds a block, in ms.
///
/// The whole network hashes at `initial_difficulty / interval` hashes per ms (so that genesis
/// difficulty gives the target interval); a miner with share s finds blocks of difficulty D as a
/// Poisson process of rate `s * initial_difficulty / (D * interval_ms)`. Returns `None` for a
/// miner with no hash power.
pub fn mining_delay_ms<R: RngCore + ?Sized>(
    share: f64,
    initial_difficulty: u64,
    current_difficulty: u64,
    interval_ms: u64,
    rng: &mut R,
) -> Option<f64> {
    if share <= 0.0 {
        return None;
    }
    let rate = share * initial_difficulty as f64
        / (current_difficulty.max(1) as f64 * interval_ms.max(1) as f64);
    Exp::new(rate).ok().map(|d| d.sample(rng))
}

/// The retarget clamp: difficulty changes by at most this factor per retarget (as Bitcoin).
pub const RETARGET_CLAMP: u64 = 4;

/// True when `hash` meets `difficulty`: its top 128 bits (big-endian) are at most
/// `u128::MAX / difficulty`. A random hash succeeds with probability `1 / difficulty`.
pub fn meets_difficulty(hash: &Hash, difficulty: u64) -> bool {
    if difficulty == 0 {
        return false;
    }
    let mut top = [0u8; 16];
    top.copy_from_slice(&hash.0[..16]);
    u128::from_be_bytes(top) <= u128::MAX / u128::from(difficulty)
}

/// Work a block contributes to its chain: its difficulty (expected hashes).
pub fn work(difficulty: u64) -> u128 {
    u128::from(difficulty)
}

/// Difficulty after a retarget window.
///
/// `intervals` blocks were expected to take `intervals * block_interval_ms`; they took
/// `actual_ms`. The new difficulty scales the old one by expected / actual, with the ratio
/// clamped to [1/4, 4] and the result at least 1.
pub fn retarget(old: u64, intervals: u64, block_interval_ms: u64, actual_ms: u64) -> u64 {
    if intervals == 0 {
        return old;
    }
    let expected = u128::from(intervals) * u128::from(block_interval_ms.max(1));
    let clamp = u128::from(RETARGET_CLAMP);
    let actual = u128::from(actual_ms)
        .clamp(expected / clamp, expected * clamp)
        .max(1);
    let new = u128::from(old) * expected / actual;
    u64::try_from(new).unwrap_or(u64::MAX).max(1)
}

/// Searches nonces from `start` for at most `max_tries` hashes. On success the header holds the
/// winning nonce and its hash is returned.
///
/// The header is encoded once: the nonce is the last 8 bytes of the canonical encoding, so each
/// try only rewrites them and hashes.
pub fn grind(header: &mut BlockHeader, start: u64, max_tries: u64) -> Option<Hash> {
    let Seal::Pow { difficulty, .. } = header.seal else {
        return None;
    };
    header.seal = Seal::Pow {
        difficulty,
        nonce: start,
    };
    let mut bytes = crate::encoding::encode(header);
    let at = bytes.len() - 8;
    for i in 0..max_tries {
        let nonce = start.wrapping_add(i);
        bytes[at..].copy_from_slice(&nonce.to_le_bytes());
        let h = Hash::double_sha256(&bytes);
        if meets_difficulty(&h, difficulty) {
            header.seal = Seal::Pow { difficulty, nonce };
            debug_assert_eq!(header.hash(), h);
            return Some(h);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Address;

    #[test]
    fn difficulty_one_accepts_everything_and_max_almost_nothing() {
        assert!(meets_difficulty(&Hash([0xff; 32]), 1));
        assert!(!meets_difficulty(&Hash([0xff; 32]), 2));
        assert!(meets_difficulty(&Hash([0; 32]), u64::MAX));
        assert!(!meets_difficulty(&Hash([0; 32]), 0));
    }

    #[test]
    fn retarget_moves_toward_interval_and_clamps() {
        assert_eq!(retarget(1000, 10, 1000, 10_000), 1000);
        assert_eq!(retarget(1000, 10, 1000, 5_000), 2000);
        assert_eq!(retarget(1000, 10, 1000, 20_000), 500);
        assert_eq!(retarget(1000, 10, 1000, 1), 4000);
        assert_eq!(retarget(1000, 10, 1000, 10_000_000), 250);
        assert_eq!(retarget(1, 10, 1000, 10_000_000), 1);
    }

    /// A chain of headers by height, for the retarget rules (the hash of a header is its
    /// height, so any header can be found without grinding).
    struct Headers(Vec<BlockHeader>);

    impl Headers {
        /// Genesis at 0 and one block per `stamps` entry, at difficulty `d`.
        fn new(stamps: &[u64], d: u64) -> Headers {
            let mut v = Vec::new();
            for (height, ts) in std::iter::once(0).chain(stamps.iter().copied()).enumerate() {
                let height = height as u64;
                v.push(BlockHeader {
                    version: 1,
                    parent: Headers::id(height.saturating_sub(1)),
                    height,
                    tx_root: Hash::ZERO,
                    state_root: Hash::ZERO,
                    timestamp_ms: ts,
                    miner: Address::default(),
                    seal: Seal::Pow {
                        difficulty: d,
                        nonce: 0,
                    },
                });
            }
            Headers(v)
        }

        fn id(height: u64) -> Hash {
            Hash::sha256(&height.to_le_bytes())
        }

        fn tip(&self) -> Hash {
            Headers::id(self.0.len() as u64 - 1)
        }
    }

    impl Ancestry for Headers {
        fn header(&self, hash: &Hash) -> Option<&BlockHeader> {
            self.0.iter().find(|h| Headers::id(h.height) == *hash)
        }

        fn ancestor(&self, hash: &Hash, height: u64) -> Option<Hash> {
            let h = self.header(hash)?;
            (height <= h.height).then(|| Headers::id(height))
        }
    }

    fn pow(fix: bool) -> Pow {
        Pow {
            block_interval_ms: 1_000,
            retarget_interval: 10,
            initial_difficulty: 1_000,
            time_warp_fix: fix,
        }
    }

    #[test]
    fn fixed_windows_share_their_boundary_block() {
        let p = pow(true);
        assert_eq!((p.window_start(9), p.window_start(19)), (1, 9));
        // Blocks 1..=19 one second apart, except block 9 (the first window's end), 5 s late.
        let stamps: Vec<u64> = (1..=19)
            .map(|h| h * 1_000 + if h == 9 { 5_000 } else { 0 })
            .collect();
        let c = Headers::new(&stamps[..9], 1_000);
        // The first window: blocks 1..=9, 8 intervals expected, 13 s measured.
        assert_eq!(
            p.next_difficulty(&c, &c.tip()),
            retarget(1_000, 8, 1_000, 13_000)
        );
        let c = Headers::new(&stamps, 1_000);
        // The second: blocks 9..=19, 10 intervals, 5 s less than real: the late stamp counts once.
        assert_eq!(
            p.next_difficulty(&c, &c.tip()),
            retarget(1_000, 10, 1_000, 5_000)
        );
        // The window-end rule: block 19 may not be older than block 9.
        let mut c = Headers::new(&stamps[..18], 1_000);
        assert_eq!(p.earliest_child_timestamp(&c, &c.tip()), 14_000);
        c.0.pop();
        assert_eq!(
            p.earliest_child_timestamp(&c, &c.tip()),
            0,
            "block 18 ends no window"
        );
    }

    #[test]
    fn unfixed_windows_are_bitcoins_disjoint_and_off_by_one() {
        let p = pow(false);
        assert_eq!((p.window_start(9), p.window_start(19)), (1, 10));
        let stamps: Vec<u64> = (1..=19).map(|h| h * 1_000).collect();
        let c = Headers::new(&stamps[..9], 1_000);
        // Blocks 1..=9 (genesis excluded): 8 s measured against 10 expected.
        assert_eq!(
            p.next_difficulty(&c, &c.tip()),
            retarget(1_000, 10, 1_000, 8_000)
        );
        let c = Headers::new(&stamps, 1_000);
        // Blocks 10..=19: 9 intervals measured against 10 expected (Bitcoin's off-by-one).
        assert_eq!(p.next_difficulty(&c, &c.tip()), 1_111);
        // The time warp: block 10 stamped early, block 19 late; no rule stops either, and the
        // window's span grows by both.
        let mut warped = stamps.clone();
        warped[9] = 2_000;
        warped[18] = 19_000 + 15_000;
        let c = Headers::new(&warped, 1_000);
        assert_eq!(
            p.next_difficulty(&c, &c.tip()),
            retarget(1_000, 10, 1_000, 32_000)
        );
        assert_eq!(p.next_difficulty(&c, &c.tip()), 312);
        let c = Headers::new(&warped[..18], 1_000);
        assert_eq!(
            p.earliest_child_timestamp(&c, &c.tip()),
            0,
            "no window-end rule"
        );
        // Between retargets the parent's difficulty carries over, under both rules.
        let c = Headers::new(&stamps[..12], 777);
        assert_eq!(p.next_difficulty(&c, &c.tip()), 777);
        assert_eq!(pow(true).next_difficulty(&c, &c.tip()), 777);
    }

    #[test]
    fn grind_finds_a_valid_nonce_at_the_expected_rate() {
        let mut total = 0u64;
        let trials = 200;
        for t in 0..trials {
            let mut h = BlockHeader {
                version: 1,
                parent: Hash::sha256(&(t as u64).to_le_bytes()),
                height: 1,
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                timestamp_ms: 0,
                miner: Address::default(),
                seal: Seal::Pow {
                    difficulty: 64,
                    nonce: 0,
                },
            };
            let hash = grind(&mut h, 0, 1_000_000).expect("found");
            assert_eq!(hash, h.hash());
            assert!(meets_difficulty(&hash, 64));
            let Seal::Pow { nonce, .. } = h.seal else {
                panic!("a proof-of-work seal")
            };
            total += nonce + 1;
        }
        // Geometric with mean 64: the mean of 200 draws has sd ~ 64/sqrt(200) ~ 4.5.
        let mean = total as f64 / trials as f64;
        assert!((40.0..90.0).contains(&mean), "mean tries {mean}");
    }

    #[test]
    fn exponential_mining_delays_have_the_configured_mean() {
        let mut rng = crate::sim::model::stream(4, "mine", 0);
        let n = 20_000;
        let mean: f64 = (0..n)
            .map(|_| mining_delay_ms(0.25, 100, 100, 10_000, &mut rng).unwrap())
            .sum::<f64>()
            / n as f64;
        // Exponential with mean 40,000 ms: the sample mean has sd 40,000 / sqrt(n) ~ 283 ms.
        assert!((mean - 40_000.0).abs() < 4.0 * 283.0, "{mean}");
        assert!(mining_delay_ms(0.0, 1, 1, 1, &mut rng).is_none());
    }
}
