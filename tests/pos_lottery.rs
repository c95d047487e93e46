//! The proof-of-stake leader lottery against its theory (`docs/pos.md`, "Engine: slots,
//! lottery, randomness"), with the real VRF: 16 validators evaluate schnorrkel's VRF for
//! 20,000 slots; the engine's threshold test then decides who leads each slot under several
//! stake distributions, active slot coefficients and sets of offline validators, and the
//! measured shares must match the formulas within 4 standard errors:
//!
//! - empty slots: ∏(1 − φ(α_i)) = (1 − f)^(Σα_i) = 1 − f, whatever the distribution;
//! - single-leader slots: Σ_i φ(α_i) ∏_{j≠i} (1 − φ(α_j)); multi-leader slots: the rest;
//! - slots led by validator i: φ(α_i);
//! - with only the validators of stake share a online: empty slots (1 − f)^a.
//!
//! The VRF outputs do not depend on stakes or f (only on keys, the epoch nonce and the slot),
//! so one matrix of evaluations serves every case; each case is still an exact run of the
//! engine's rule on real VRF outputs.

use chainlab::consensus::pos::lottery::phi;
use chainlab::consensus::pos::state::{epoch_nonce, genesis_acc};
use chainlab::consensus::pos::vrf::{self, VrfKey};
use chainlab::consensus::pos::{LeaderRule, Pos, Validator};
use chainlab::{Hash, KeyPair};
use std::sync::Arc;

const N: usize = 16;
const SLOTS: u64 = 20_000;
const TOTAL: u64 = 1_000_000_000;

fn keys() -> Vec<KeyPair> {
    (0..N)
        .map(|i| KeyPair::from_seed(&[b'l', i as u8]))
        .collect()
}

fn engine(keys: &[KeyPair], stakes: &[u64], f: f64, leader: LeaderRule) -> Pos {
    Pos {
        chain_id: 7,
        slot_ms: 1_000,
        epoch_slots: 100_000,
        active_slot_coeff: f,
        leader,
        validators: Arc::new(
            keys.iter()
                .zip(stakes)
                .map(|(k, &stake)| Validator {
                    public: k.public,
                    address: k.address(),
                    vrf_public: VrfKey::from_keypair(k).public(),
                    stake,
                })
                .collect(),
        ),
        slash_fraction: 0.5,
        vote_offset_slots: 1,
        cache: Default::default(),
    }
}

/// Integer stakes summing to TOTAL from weights.
fn stakes(weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    let mut s: Vec<u64> = weights
        .iter()
        .map(|w| (w / sum * TOTAL as f64).floor() as u64)
        .collect();
    let rest = TOTAL - s.iter().sum::<u64>();
    s[0] += rest;
    s
}

fn distributions() -> Vec<(&'static str, Vec<u64>)> {
    let equal = vec![1.0; N];
    let zipf: Vec<f64> = (1..=N).map(|i| (i as f64).powf(-1.5)).collect();
    let mut whale = vec![1.0 / 30.0; N];
    whale[0] = 0.5;
    let mut tiers: Vec<f64> = (0..N).map(|i| if i < 4 { 10.0 } else { 1.0 }).collect();
    tiers[N - 1] = 0.0;
    vec![
        ("equal", stakes(&equal)),
        ("zipf", stakes(&zipf)),
        ("whale", stakes(&whale)),
        ("tiers with a zero", stakes(&tiers)),
    ]
}

/// The lottery values of every validator for slots 1..=SLOTS in epoch 0 (two threads).
fn values(pos: &Pos, keys: &[KeyPair], eta: &Hash) -> Vec<Vec<u128>> {
    let eval = |k: &KeyPair| {
        let vk = VrfKey::from_keypair(k);
        (1..=SLOTS)
            .map(|s| vk.evaluate(&pos.slot_input(eta, s)).value)
            .collect::<Vec<u128>>()
    };
    std::thread::scope(|sc| {
        let (a, b) = keys.split_at(N / 2);
        let h = sc.spawn(|| b.iter().map(eval).collect::<Vec<_>>());
        let mut out: Vec<Vec<u128>> = a.iter().map(eval).collect();
        out.extend(h.join().expect("the evaluating thread"));
        out
    })
}

/// Asserts that `count` successes in `n` trials fit probability `p` within 4 standard errors.
fn fits(what: &str, count: u64, n: u64, p: f64) {
    let n = n as f64;
    let sd = (n * p * (1.0 - p)).sqrt().max(0.5);
    let z = (count as f64 - n * p) / sd;
    assert!(
        z.abs() <= 4.0,
        "{what}: {count} of {n} against p = {p:.5} (expected {:.1}, z = {z:.2})",
        n * p
    );
}

#[test]
fn lottery_shares_match_the_theory_with_the_real_vrf() {
    let keys = keys();
    let equal = stakes(&[1.0; N]);
    let base = engine(&keys, &equal, 0.05, LeaderRule::Lottery);
    let eta = epoch_nonce(0, &genesis_acc(base.chain_id));
    let started = std::time::Instant::now();
    let vals = values(&base, &keys, &eta);
    eprintln!(
        "{} VRF evaluations in {:?}",
        N as u64 * SLOTS,
        started.elapsed()
    );

    // The values the scan uses are the values a verifier gets from the proof.
    for (i, k) in keys.iter().enumerate().take(2) {
        let vk = VrfKey::from_keypair(k);
        for s in [1u64, 777] {
            let input = base.slot_input(&eta, s);
            let (out, proof) = vk.prove(&input);
            assert_eq!(out.value, vals[i][(s - 1) as usize]);
            assert_eq!(vrf::verify(&vk.public(), &input, &proof), Ok(out));
        }
    }

    for f in [0.05, 0.5] {
        for (name, st) in distributions() {
            let pos = engine(&keys, &st, f, LeaderRule::Lottery);
            let total: u64 = st.iter().sum();
            let alpha: Vec<f64> = st.iter().map(|&s| s as f64 / total as f64).collect();
            let phis: Vec<f64> = alpha.iter().map(|&a| phi(f, a)).collect();
            let mut led = [0u64; N];
            let (mut empty, mut single, mut multi) = (0u64, 0u64, 0u64);
            // Offline: the validators of the second half (their stake does not lead).
            let online: Vec<bool> = (0..N).map(|i| i < N / 2).collect();
            let mut empty_online = 0u64;
            for slot in 1..=SLOTS {
                let s = (slot - 1) as usize;
                let leaders: Vec<usize> = (0..N)
                    .filter(|&i| pos.is_leader(&st, &eta, slot, i as u32, vals[i][s]))
                    .collect();
                for &i in &leaders {
                    led[i] += 1;
                }
                match leaders.len() {
                    0 => empty += 1,
                    1 => single += 1,
                    _ => multi += 1,
                }
                if !leaders.iter().any(|&i| online[i]) {
                    empty_online += 1;
                }
            }
            let p_empty: f64 = phis.iter().map(|p| 1.0 - p).product();
            assert!((p_empty - (1.0 - f)).abs() < 1e-12, "{name}: {p_empty}");
            let p_single: f64 = (0..N)
                .map(|i| {
                    phis[i]
                        * (0..N)
                            .filter(|&j| j != i)
                            .map(|j| 1.0 - phis[j])
                            .product::<f64>()
                })
                .sum();
            let p_multi = 1.0 - p_empty - p_single;
            let tag = |what: &str| format!("f = {f}, {name}: {what}");
            fits(&tag("empty"), empty, SLOTS, p_empty);
            fits(&tag("single"), single, SLOTS, p_single);
            fits(&tag("multi"), multi, SLOTS, p_multi);
            for i in 0..N {
                fits(&tag(&format!("validator {i}")), led[i], SLOTS, phis[i]);
            }
            let a_online: f64 = (0..N).filter(|&i| online[i]).map(|i| alpha[i]).sum();
            fits(
                &tag("empty with half the validators offline"),
                empty_online,
                SLOTS,
                (1.0 - f).powf(a_online),
            );
        }
    }
}

#[test]
fn single_leader_shares_follow_stake() {
    let keys = keys();
    for (name, st) in distributions() {
        let pos = engine(&keys, &st, 0.05, LeaderRule::Single);
        let total: u64 = st.iter().sum();
        let eta = Hash::sha256(name.as_bytes());
        let mut led = [0u64; N];
        for slot in 1..=SLOTS {
            let leaders: Vec<usize> = (0..N)
                .filter(|&i| pos.is_leader(&st, &eta, slot, i as u32, 0))
                .collect();
            assert_eq!(leaders.len(), 1, "{name}, slot {slot}");
            led[leaders[0]] += 1;
        }
        for i in 0..N {
            let p = st[i] as f64 / total as f64;
            fits(&format!("single, {name}: validator {i}"), led[i], SLOTS, p);
        }
    }
}
