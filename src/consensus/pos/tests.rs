//! The engine through the chain: signed proof-of-stake blocks built, sealed, checked and
//! imported by [`ChainState`]; each broken rule refused with its [`PosError`]; the epoch
//! nonce and stake snapshots; the producer's plan; determinism.

use super::state::{epoch_nonce, table_id, PosState};
use super::vrf::VrfKey;
use super::{sign, LeaderRule, Pos, PosError, Validator};
use crate::block::{Block, Seal};
use crate::chain::validation::{check_block, BlockError};
use crate::chain::ChainState;
use crate::consensus::{Consensus, Effort, Engine, Plan, Producer, SealError, SealRule};
use crate::crypto::{KeyPair, Signature};
use crate::hash::Hash;
use crate::ChainParams;
use std::sync::Arc;

const SLOT_MS: u64 = 1_000;
const EPOCH: u64 = 10;

fn keys(n: u8) -> Vec<KeyPair> {
    (0..n).map(|i| KeyPair::from_seed(&[b'v', i])).collect()
}

fn engine(keys: &[KeyPair], stakes: &[u64], leader: LeaderRule, f: f64) -> Pos {
    let validators = keys
        .iter()
        .zip(stakes)
        .map(|(k, &stake)| Validator {
            public: k.public,
            address: k.address(),
            vrf_public: VrfKey::from_keypair(k).public(),
            stake,
        })
        .collect();
    Pos {
        chain_id: 7,
        slot_ms: SLOT_MS,
        epoch_slots: EPOCH,
        active_slot_coeff: f,
        leader,
        validators: Arc::new(validators),
        slash_fraction: 0.5,
        vote_offset_slots: 2,
        cache: Default::default(),
    }
}

fn chain(pos: &Pos) -> ChainState {
    let mut p = ChainParams::for_tests(Vec::new());
    p.engine = Engine::Pos(pos.clone());
    ChainState::new(Arc::new(p))
}

fn pos_rule(c: &ChainState) -> Arc<super::PosRule> {
    match c.next_rule(&c.tip()) {
        SealRule::Pos(r) => r,
        SealRule::Pow { .. } => panic!("a proof-of-stake rule"),
    }
}

/// The next block on `c`'s tip: the first slot from `from` that some validator leads, sealed
/// by the lowest such validator.
fn next_block(c: &mut ChainState, pos: &Pos, keys: &[KeyPair], from: u64) -> (Block, u64, u32) {
    let rule = pos_rule(c);
    for s in from.max(rule.state.slot + 1).. {
        for (i, k) in keys.iter().enumerate() {
            let i = i as u32;
            if pos.first_led_slot(&rule.state, i, k, s, s + 1).is_some() {
                let mut b = c
                    .build_block(&[], Vec::new(), k.address(), pos.slot_start_ms(s) + 3)
                    .expect("the reward fits");
                assert!(c
                    .engine()
                    .seal(&SealRule::Pos(rule.clone()), &mut b.header, k, 0, 1));
                return (b, s, i);
            }
        }
    }
    unreachable!("an endless scan")
}

fn import(c: &mut ChainState, b: Block) -> Result<Hash, BlockError> {
    let now = b.header.timestamp_ms;
    let checked = check_block(Arc::new(b), c.params(), None)?;
    let h = checked.hash;
    c.import(checked, now, 0)?;
    Ok(h)
}

fn grow(c: &mut ChainState, pos: &Pos, keys: &[KeyPair], n: usize) -> Vec<Block> {
    (0..n)
        .map(|_| {
            let (b, _, _) = next_block(c, pos, keys, 0);
            import(c, b.clone()).expect("a valid block");
            b
        })
        .collect()
}

fn pos_err(r: Result<Hash, BlockError>) -> PosError {
    match r {
        Err(BlockError::Seal(SealError::Pos(e))) => e,
        other => panic!("expected a proof-of-stake error, got {other:?}"),
    }
}

#[test]
fn a_chain_of_signed_blocks_imports_extends_and_is_deterministic() {
    let ks = keys(4);
    let pos = engine(&ks, &[100, 200, 300, 400], LeaderRule::Lottery, 0.5);
    let mut c = chain(&pos);
    let blocks = grow(&mut c, &pos, &ks, 30);
    assert_eq!(c.height(), 30);
    let slots: Vec<u64> = blocks.iter().filter_map(|b| b.header.slot()).collect();
    assert!(slots.windows(2).all(|w| w[0] < w[1]), "{slots:?}");
    assert!(*slots.last().unwrap() > 3 * EPOCH, "crosses epochs");
    for b in &blocks {
        let Seal::Pos { slot, proposer, .. } = b.header.seal else {
            panic!("a proof-of-stake seal")
        };
        assert_eq!(b.header.timestamp_ms, slot * SLOT_MS);
        assert_eq!(pos.verify_header_signature(&b.header), Ok(proposer));
    }
    // Another process (a fresh engine: its own memo) builds the same bytes and accepts them.
    let again = engine(&ks, &[100, 200, 300, 400], LeaderRule::Lottery, 0.5);
    let mut c2 = chain(&again);
    assert_eq!(grow(&mut c2, &again, &ks, 30), blocks);
    let fresh = engine(&ks, &[100, 200, 300, 400], LeaderRule::Lottery, 0.5);
    let mut c3 = chain(&fresh);
    for b in &blocks {
        import(&mut c3, b.clone()).expect("valid elsewhere");
    }
    assert_eq!(c3.tip(), c.tip());
    assert_eq!(fresh.cache.stats().1, 30, "each proof verified once");
    assert_eq!(c.engine().finalized(&c, &c.tip()), Some(c.genesis()));
}

#[test]
fn single_leader_slots_have_exactly_one_leader() {
    let ks = keys(5);
    let pos = engine(&ks, &[1, 2, 3, 4, 0], LeaderRule::Single, 0.05);
    let mut c = chain(&pos);
    let st = pos_rule(&c).state.clone();
    for s in 1..3 * EPOCH {
        let leaders: Vec<usize> = (0..5)
            .filter(|&i| {
                pos.first_led_slot(&st, i as u32, &ks[i], s, s + 1)
                    .is_some()
            })
            .collect();
        assert_eq!(leaders.len(), 1, "slot {s}: {leaders:?}");
        assert_ne!(leaders[0], 4, "zero stake never leads");
    }
    let blocks = grow(&mut c, &pos, &ks, 12);
    let slots: Vec<u64> = blocks.iter().filter_map(|b| b.header.slot()).collect();
    assert_eq!(
        slots,
        (1..=12).collect::<Vec<_>>(),
        "every slot has its block"
    );
}

/// A header like a valid child of `c`'s tip at a slot `proposer` may not lead, with a real
/// proof and signature.
fn forged(c: &mut ChainState, pos: &Pos, keys: &[KeyPair], slot: u64, proposer: u32) -> Block {
    let rule = pos_rule(c);
    let k = &keys[proposer as usize];
    let mut b = c
        .build_block(&[], Vec::new(), k.address(), pos.slot_start_ms(slot))
        .expect("the reward fits");
    let (eta, _) = pos
        .slot_context(&rule.state, slot)
        .unwrap_or((Hash::ZERO, &[]));
    let (_, proof) = VrfKey::from_keypair(k).prove(&pos.slot_input(&eta, slot));
    b.header.timestamp_ms = pos.slot_start_ms(slot);
    b.header.seal = Seal::Pos {
        slot,
        proposer,
        vrf: proof,
        signature: Signature([0; 64]),
    };
    sign::sign_header(&mut b.header, k);
    b
}

#[test]
fn broken_rules_are_refused_with_their_errors() {
    let ks = keys(4);
    let pos = engine(&ks, &[100, 200, 300, 0], LeaderRule::Lottery, 0.5);
    let mut c = chain(&pos);
    grow(&mut c, &pos, &ks, 3);
    let tip_slot = pos_rule(&c).state.slot;
    let (good, slot, proposer) = next_block(&mut c, &pos, &ks, 0);
    let k = &ks[proposer as usize];

    let mut b = good.clone();
    let Seal::Pos { signature, .. } = &mut b.header.seal else {
        unreachable!()
    };
    signature.0[10] ^= 1;
    assert_eq!(pos_err(import(&mut c, b)), PosError::BadBlockSignature);

    let mut b = good.clone();
    let other = &ks[(proposer as usize + 1) % 3];
    sign::sign_header(&mut b.header, other);
    assert_eq!(pos_err(import(&mut c, b)), PosError::BadBlockSignature);

    let mut b = good.clone();
    b.header.timestamp_ms += 1;
    sign::sign_header(&mut b.header, k);
    assert_eq!(
        pos_err(import(&mut c, b)),
        PosError::SlotTime {
            slot,
            ts: slot * SLOT_MS + 1,
            expected: slot * SLOT_MS
        }
    );

    let mut b = good.clone();
    let Seal::Pos { vrf, .. } = &mut b.header.seal else {
        unreachable!()
    };
    vrf.proof[40] ^= 1;
    sign::sign_header(&mut b.header, k);
    assert_eq!(
        pos_err(import(&mut c, b)),
        PosError::BadVrfProof {
            validator: proposer,
            slot
        }
    );

    let mut b = good.clone();
    let Seal::Pos { proposer: p, .. } = &mut b.header.seal else {
        unreachable!()
    };
    *p = 9;
    assert_eq!(pos_err(import(&mut c, b)), PosError::UnknownValidator(9));

    let b = forged(&mut c, &pos, &ks, tip_slot, 0);
    assert_eq!(
        pos_err(import(&mut c, b)),
        PosError::SlotNotAfterParent {
            slot: tip_slot,
            parent: tip_slot
        }
    );

    // A validator with stake that does not lead a slot, and one without stake.
    let st = pos_rule(&c).state.clone();
    let (s, i) = (tip_slot + 1..)
        .flat_map(|s| (0..3u32).map(move |i| (s, i)))
        .find(|&(s, i)| {
            pos.first_led_slot(&st, i, &ks[i as usize], s, s + 1)
                .is_none()
        })
        .expect("some validator misses some slot");
    let b = forged(&mut c, &pos, &ks, s, i);
    assert_eq!(
        pos_err(import(&mut c, b)),
        PosError::NotLeader {
            validator: i,
            slot: s
        }
    );
    let b = forged(&mut c, &pos, &ks, tip_slot + 1, 3);
    assert_eq!(
        pos_err(import(&mut c, b)),
        PosError::NotLeader {
            validator: 3,
            slot: tip_slot + 1
        }
    );

    // The untouched block still imports: nothing above poisoned a memo.
    import(&mut c, good).expect("the valid block");
}

#[test]
fn a_seal_is_refused_for_another_parent_or_a_slot_the_key_does_not_lead() {
    let ks = keys(3);
    let pos = engine(&ks, &[1, 1, 1], LeaderRule::Lottery, 0.5);
    let mut c = chain(&pos);
    let rule = SealRule::Pos(pos_rule(&c));
    let st = pos_rule(&c).state.clone();
    let s = (1..)
        .find(|&s| pos.first_led_slot(&st, 0, &ks[0], s, s + 1).is_none())
        .unwrap();
    let mut b = c
        .build_block(&[], Vec::new(), ks[0].address(), pos.slot_start_ms(s))
        .unwrap();
    assert!(!pos.seal(&rule, &mut b.header, &ks[0], 0, 1));
    b.header.parent = Hash([1; 32]);
    assert!(!pos.seal(&rule, &mut b.header, &ks[0], 0, 1));
    let stranger = KeyPair::from_seed(b"stranger");
    assert!(!pos.seal(&rule, &mut b.header, &stranger, 0, 1));
    grow(&mut c, &pos, &ks, 2);
}

fn child(pos: &Pos, st: &PosState, slot: u64) -> PosState {
    st.child(pos, slot, &Hash::sha256(&slot.to_le_bytes()).0)
        .expect("a later slot")
}

#[test]
fn the_epoch_nonce_is_fixed_one_epoch_ahead_and_ignores_later_blocks() {
    let ks = keys(2);
    let pos = engine(&ks, &[1, 1], LeaderRule::Lottery, 0.5);
    let g = PosState::genesis(&pos, Hash([7; 32]));
    // Epochs 0 and 1 use the genesis accumulator.
    let a = child(&pos, &g, 3);
    assert_eq!(a.eta(&pos, 0), g.eta(&pos, 0));
    assert_eq!(a.eta(&pos, 1), g.eta(&pos, 1));
    assert_eq!(g.eta(&pos, 1), Some(epoch_nonce(1, &g.rand_acc)));
    // η_2 is fixed by the last block of epoch 0 (slot < 10).
    let b = child(&pos, &a, 7);
    let eta2 = b.eta(&pos, 2).unwrap();
    assert_eq!(eta2, epoch_nonce(2, &b.rand_acc));
    assert_ne!(
        Some(eta2),
        a.eta(&pos, 2),
        "another epoch-0 block changes it"
    );
    // Two branches that differ after slot 10 agree on η_2, from any of their blocks in
    // epochs 1 and 2.
    let x = child(&pos, &child(&pos, &b, 12), 21);
    let y = child(&pos, &child(&pos, &child(&pos, &b, 15), 18), 25);
    for s in [&x, &y] {
        assert_eq!(s.eta(&pos, 2), Some(eta2));
    }
    assert_ne!(
        x.eta(&pos, 3),
        y.eta(&pos, 3),
        "η_3 follows epoch 1's blocks"
    );
    // A branch that skips whole epochs uses its last block before each fixing point.
    let far = child(&pos, &b, 45);
    assert_eq!(b.eta(&pos, 6), Some(epoch_nonce(6, &b.rand_acc)));
    assert_eq!(far.eta(&pos, 4), Some(eta_of(&b, 4)));
    assert_eq!(far.eta(&pos, 5), Some(eta_of(&b, 5)), "far is in epoch 4");
    assert_eq!(far.eta(&pos, 6), Some(eta_of(&far, 6)));
}

fn eta_of(st: &PosState, e: u64) -> Hash {
    epoch_nonce(e, &st.rand_acc)
}

#[test]
fn stake_changes_apply_from_the_next_epoch() {
    let ks = keys(2);
    let pos = engine(&ks, &[600, 400], LeaderRule::Lottery, 0.5);
    let g = PosState::genesis(&pos, Hash([7; 32]));
    let a = child(&pos, &g, 12);
    // A slashing included at slot 12 (epoch 1), as the FFG step would apply it.
    let mut slashed = a.clone();
    slashed.stakes = Arc::new(vec![300, 400]);
    slashed.stakes_id = table_id(&slashed.stakes);
    let b = child(&pos, &slashed, 15);
    assert_eq!(b.table_for(&pos, 1).unwrap().1, g.stakes_id);
    assert_eq!(b.table_for(&pos, 2).unwrap().1, slashed.stakes_id);
    assert_eq!(b.stakes_for(&pos, 1).unwrap().as_slice(), &[600, 400]);
    assert_eq!(b.stakes_for(&pos, 2).unwrap().as_slice(), &[300, 400]);
    let c = child(&pos, &b, 23);
    assert_eq!(c.stakes_for(&pos, 2).unwrap().as_slice(), &[300, 400]);
    assert_eq!(c.epoch_stakes.as_slice(), &[300, 400]);
    assert_eq!(b.stakes_for(&pos, 0), None, "a child is never earlier");
}

fn plan_at(pos: &Pos, rule: &SealRule, key: &KeyPair, now_ms: u64) -> Plan {
    let producer = Producer {
        power: 0.5,
        effort: Effort::Modelled,
        now_ms,
        key,
    };
    pos.plan(rule, &producer, &mut rand::rngs::mock::StepRng::new(0, 1))
}

#[test]
fn the_plan_waits_for_the_first_led_slot() {
    let ks = keys(3);
    let pos = engine(&ks, &[1, 1, 0], LeaderRule::Lottery, 0.3);
    let c = chain(&pos);
    let rule = SealRule::Pos(pos_rule(&c));
    let st = pos_rule(&c).state.clone();
    // The first led slot, by brute force with the VRF itself.
    let vk = VrfKey::from_keypair(&ks[0]);
    let thr = pos.lottery_threshold(&st.stakes, 0);
    let led = |s: u64| {
        let (eta, _) = pos.slot_context(&st, s).unwrap();
        vk.evaluate(&pos.slot_input(&eta, s)).value < thr
    };
    let first = (1..).find(|&s| led(s)).unwrap();
    assert_eq!(
        plan_at(&pos, &rule, &ks[0], 0),
        Plan::After {
            delay_ms: (first * SLOT_MS) as f64
        }
    );
    // Inside the slot: led while less than half of it has passed.
    let start = first * SLOT_MS;
    assert_eq!(
        plan_at(&pos, &rule, &ks[0], start + 400),
        Plan::After { delay_ms: 0.0 }
    );
    // Past half of it: the next led slot, if the scan reaches it (it stops at the end of the
    // current epoch, and plans again from there), else a wait until then.
    let fixed_end = (first / EPOCH + 1) * EPOCH;
    let now = start + 600;
    let expected = match (first + 1..fixed_end).find(|&s| led(s)) {
        Some(next) => Plan::After {
            delay_ms: (next * SLOT_MS - now) as f64,
        },
        None => Plan::Wait {
            delay_ms: (fixed_end * SLOT_MS - now) as f64,
        },
    };
    assert_eq!(plan_at(&pos, &rule, &ks[0], now), expected);
    // No stake, or no validator: idle.
    assert_eq!(plan_at(&pos, &rule, &ks[2], 0), Plan::Idle);
    assert_eq!(
        plan_at(&pos, &rule, &KeyPair::from_seed(b"x"), 0),
        Plan::Idle
    );
    // Nothing led within the horizon: wait for the epoch's end.
    let tiny = engine(&ks, &[1, 1_000_000_000, 0], LeaderRule::Lottery, 1e-9);
    let tc = chain(&tiny);
    let trule = SealRule::Pos(pos_rule(&tc));
    assert_eq!(
        plan_at(&tiny, &trule, &ks[0], 500),
        Plan::Wait {
            delay_ms: (EPOCH * SLOT_MS - 500) as f64
        }
    );
    // Once the clock is past the parent's next epoch, the scan covers the current epoch (its
    // nonce is fixed from the parent, as no block can come before its start any more).
    let late = 3 * EPOCH * SLOT_MS + 200;
    assert_eq!(
        plan_at(&tiny, &trule, &ks[0], late),
        Plan::Wait {
            delay_ms: (4 * EPOCH * SLOT_MS - late) as f64
        }
    );
}

#[test]
fn memoized_scans_agree_with_direct_evaluation_across_chunks_and_epochs() {
    let ks = keys(2);
    let mut pos = engine(&ks, &[1, 3], LeaderRule::Lottery, 0.2);
    pos.epoch_slots = 150; // chunks 0..64, 64..128, 128..150 of each epoch
    let g = PosState::genesis(&pos, Hash([3; 32]));
    let st = child(&pos, &child(&pos, &g, 100), 170);
    let vk = VrfKey::from_keypair(&ks[0]);
    let thr = pos.lottery_threshold(st.stakes_for(&pos, 2).unwrap(), 0);
    let led: Vec<u64> = (171..480)
        .filter(|&s| {
            let (eta, stakes) = pos.slot_context(&st, s).unwrap();
            assert_eq!(pos.lottery_threshold(stakes, 0), thr);
            vk.evaluate(&pos.slot_input(&eta, s)).value < thr
        })
        .collect();
    assert!(led.len() > 8, "{led:?}");
    let scanned: Vec<u64> = (171..480)
        .filter(|&s| pos.first_led_slot(&st, 0, &ks[0], s, s + 1).is_some())
        .collect();
    assert_eq!(scanned, led);
    // A long scan finds the same first slot as the per-slot checks, from any start.
    for from in [171, 200, 299, 300, 301, 449] {
        assert_eq!(
            pos.first_led_slot(&st, 0, &ks[0], from, 480),
            led.iter().copied().find(|&s| s >= from)
        );
    }
}

#[test]
fn the_single_leader_schedule_follows_the_branch_stake_table() {
    let ks = keys(2);
    let pos = engine(&ks, &[1, 3], LeaderRule::Single, 0.05);
    let g = PosState::genesis(&pos, Hash([5; 32]));
    let plain = child(&pos, &g, 12);
    let mut slashed = plain.clone();
    slashed.stakes = Arc::new(vec![3, 1]);
    slashed.stakes_id = table_id(&slashed.stakes);
    for (st, table) in [(&plain, [1u64, 3]), (&slashed, [3, 1])] {
        let (eta, stakes) = pos.slot_context(st, 20).unwrap();
        assert_eq!(stakes, &table[..]);
        for s in 20..30 {
            let expected = super::lottery::single_leader(&eta, s, &table).unwrap();
            for i in 0..2u32 {
                let leads = pos
                    .first_led_slot(st, i, &ks[i as usize], s, s + 1)
                    .is_some();
                assert_eq!(
                    leads,
                    i == expected,
                    "slot {s}, validator {i}, table {table:?}"
                );
            }
        }
    }
}

#[test]
fn equal_length_branches_go_to_the_lower_vrf_priority() {
    use crate::consensus::{BranchTip, TieBreak};
    let ks = keys(2);
    let pos = engine(&ks, &[1, 1], LeaderRule::Lottery, 0.3);
    let t = |weight: u128, priority, tie_key| BranchTip {
        weight,
        height: weight as u64,
        tie_key,
        priority,
    };
    let first_seen = TieBreak::FirstSeen;
    assert!(
        pos.prefers(&t(5, 9, 9), &t(4, 1, 0), first_seen),
        "longer wins"
    );
    assert!(!pos.prefers(&t(4, 0, 0), &t(5, 9, 9), first_seen));
    assert!(
        pos.prefers(&t(5, 1, 9), &t(5, 2, 0), first_seen),
        "equal length: the lower priority, whatever the tie-break"
    );
    assert!(!pos.prefers(&t(5, 2, 0), &t(5, 1, 9), TieBreak::Random));
    assert!(
        !pos.prefers(&t(5, 1, 0), &t(5, 1, 0), first_seen),
        "the same: kept"
    );
    assert!(pos.prefers(&t(5, 1, 0), &t(5, 1, 1), TieBreak::Random));
}
