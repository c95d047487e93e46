//! Asynchronous execution through the public API (docs/contracts.md): a call runs in the
//! block that includes it, its outgoing call `receipt_delay_blocks` later, its callback after
//! that with the callee's result; failures roll back only their own execution; a reorg across
//! a receipt runs it exactly once on the winning branch.

use chainlab::block::{Block, BlockHeader};
use chainlab::chain::exec::{execute_block, ExecRecord};
use chainlab::chain::params::ChainParams;
use chainlab::chain::state::State;
use chainlab::chain::validation::{check_block, check_tx, TxError};
use chainlab::chain::ChainState;
use chainlab::consensus::pow::grind;
use chainlab::contract::{vm, ContractParams, DeployError, ExecError};
use chainlab::crypto::{Address, KeyPair};
use chainlab::hash::TxId;
use chainlab::tx::{contract_address, Call, Deploy, Transaction};
use std::sync::Arc;

const CHAIN_ID: u32 = 7;
const FUNDS: u64 = 1_000_000_000;
const REWARD: u64 = 50;
/// The fee of every deploy and call: it buys up to 100 M gas at the default price.
const FEE: u64 = 100;

/// Calls `target` (input[0..20]) with `increment` (input[20] = 0) or `boom` (= 1), attaching
/// input[21..29] as value, and a callback `done` that stores the result's status under "s"
/// and its bytes under "r". Before the call it writes "m" (a change that must stand).
const CALLER: &str = r#"(module
  (import "env" "input" (func $input (param i32)))
  (import "env" "promise_call" (func $pcall (param i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (import "env" "promise_then" (func $pthen (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "env" "promise_result_len" (func $prlen (result i32)))
  (import "env" "promise_result" (func $pr (param i32) (result i32)))
  (import "env" "storage_write" (func $sw (param i32 i32 i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 100) "increment")
  (data (i32.const 120) "done")
  (data (i32.const 130) "boom")
  (data (i32.const 140) "srm")
  (func (export "go")
    (local $p i32) (local $m i32) (local $ml i32)
    (call $input (i32.const 0))
    (call $sw (i32.const 142) (i32.const 1) (i32.const 20) (i32.const 1))
    (if (i32.eqz (i32.load8_u (i32.const 20)))
      (then (local.set $m (i32.const 100)) (local.set $ml (i32.const 9)))
      (else (local.set $m (i32.const 130)) (local.set $ml (i32.const 4))))
    (local.set $p (call $pcall (i32.const 0) (local.get $m) (local.get $ml)
      (i32.const 0) (i32.const 0) (i64.const 1000000) (i64.load (i32.const 21))))
    (drop (call $pthen (local.get $p) (i32.const 120) (i32.const 4)
      (i32.const 0) (i32.const 0) (i64.const 1000000))))
  (func (export "done")
    (local $len i32)
    (local.set $len (call $prlen))
    (i32.store8 (i32.const 200) (call $pr (i32.const 1000)))
    (call $sw (i32.const 140) (i32.const 1) (i32.const 200) (i32.const 1))
    (call $sw (i32.const 141) (i32.const 1) (i32.const 1000) (local.get $len))))"#;

/// `boom` always fails with "no".
const BOMB: &str = r#"(module
  (import "env" "fail" (func $fail (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "no")
  (func (export "boom") (call $fail (i32.const 0) (i32.const 2))))"#;

/// `spin` loops forever (runs out of gas) after writing "x".
const SPINNER: &str = r#"(module
  (import "env" "storage_write" (func $sw (param i32 i32 i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "x")
  (func (export "spin")
    (call $sw (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
    (loop $l (br $l))))"#;

fn wasm(src: &str) -> Vec<u8> {
    vm::compile_source(src.as_bytes()).expect("compiles")
}

/// A state and a height, blocks built by hand (execution does not look at seals).
struct Sim {
    state: State,
    params: ContractParams,
    height: u64,
    key: KeyPair,
    nonce: u64,
}

impl Sim {
    fn new(params: ContractParams) -> Sim {
        let key = KeyPair::from_seed(b"receipts-user");
        Sim {
            state: State::from_balances([(key.address(), FUNDS)]),
            params,
            height: 0,
            key,
            nonce: 0,
        }
    }

    fn deploy(&mut self, src: &str) -> Transaction {
        let d = Deploy {
            code: wasm(src),
            init_args: vec![],
            gas: 1_000_000,
        };
        self.nonce += 1;
        Transaction::new_deploy(&self.key, CHAIN_ID, d, 0, FEE, self.nonce - 1)
    }

    fn call(
        &mut self,
        to: Address,
        method: &str,
        args: Vec<u8>,
        gas: u64,
        value: u64,
    ) -> Transaction {
        let c = Call {
            method: method.into(),
            args,
            gas,
        };
        self.nonce += 1;
        Transaction::new_call(&self.key, CHAIN_ID, to, c, value, FEE, self.nonce - 1)
    }

    /// Executes the next block with `txs`; its records.
    fn block(&mut self, txs: Vec<Transaction>) -> Vec<ExecRecord> {
        self.height += 1;
        let ids: Vec<TxId> = txs.iter().map(Transaction::id).collect();
        let b = Block {
            header: BlockHeader {
                height: self.height,
                timestamp_ms: self.height * 1000,
                miner: Address([0xee; 20]),
                ..ChainParams::for_tests(vec![]).genesis_block().header
            },
            txs,
            items: vec![],
        };
        execute_block(&mut self.state, &b, &ids, REWARD, &self.params)
            .expect("the block applies")
            .records
    }

    fn get(&self, c: &Address, key: &[u8]) -> Option<Vec<u8>> {
        self.state.storage(c, key).cloned()
    }
}

fn counter_value(sim: &Sim, counter: &Address) -> u64 {
    sim.get(counter, b"n")
        .map_or(0, |v| u64::from_le_bytes(v.try_into().expect("8 bytes")))
}

fn go_args(target: &Address, boom: bool, value: u64) -> Vec<u8> {
    let mut a = target.0.to_vec();
    a.push(u8::from(boom));
    a.extend_from_slice(&value.to_le_bytes());
    a
}

/// Deploys the counter, the bomb and the caller in block 1.
fn setup(sim: &mut Sim) -> (Address, Address, Address) {
    let counter = sim.deploy(chainlab::contract::examples::source("counter").unwrap());
    let bomb = sim.deploy(BOMB);
    let caller = sim.deploy(CALLER);
    let addrs = (counter.to, bomb.to, caller.to);
    let records = sim.block(vec![counter, bomb, caller]);
    let deployed = records
        .iter()
        .filter(|r| matches!(r, ExecRecord::Deployed { result: Ok(()), .. }))
        .count();
    assert_eq!(deployed, 3);
    addrs
}

fn executed(records: &[ExecRecord]) -> Vec<(String, Option<bool>, Result<(), ExecError>)> {
    records
        .iter()
        .filter_map(|r| match r {
            ExecRecord::ReceiptExecuted {
                method,
                callback,
                result,
                ..
            } => Some((method.clone(), *callback, result.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_call_runs_in_its_block_its_receipt_a_delay_later_then_its_callback() {
    for delay in [1u64, 3] {
        let mut sim = Sim::new(ContractParams {
            receipt_delay_blocks: delay,
            ..ContractParams::default()
        });
        let (counter, _, caller) = setup(&mut sim);
        let go = sim.call(caller, "go", go_args(&counter, false, 0), 5_000_000, 0);
        let at = sim.height + 1;
        let records = sim.block(vec![go]);
        assert!(records
            .iter()
            .any(|r| matches!(r, ExecRecord::Called { result: Ok(()), .. })));
        assert_eq!(
            sim.get(&caller, b"m"),
            Some(vec![0u8]),
            "the caller's own write"
        );
        assert_eq!(
            counter_value(&sim, &counter),
            0,
            "not yet: the call is a receipt"
        );
        let mut ran = Vec::new();
        for _ in 0..2 * delay + 1 {
            let h = sim.height + 1;
            for e in executed(&sim.block(vec![])) {
                ran.push((h - at, e));
            }
        }
        assert_eq!(
            ran,
            vec![
                (delay, ("increment".to_string(), None, Ok(()))),
                (2 * delay, ("done".to_string(), Some(true), Ok(()))),
            ],
            "delay {delay}"
        );
        assert_eq!(counter_value(&sim, &counter), 1);
        assert_eq!(sim.get(&caller, b"s"), Some(vec![1]), "the callback saw Ok");
        assert_eq!(sim.get(&caller, b"r"), Some(1u64.to_le_bytes().to_vec()));
        assert!(sim.state.receipts().is_empty());
    }
}

#[test]
fn a_callback_sees_the_failed_callees_error_and_the_callers_changes_stand() {
    let mut sim = Sim::new(ContractParams::default());
    let (_, bomb, caller) = setup(&mut sim);
    let go = sim.call(caller, "go", go_args(&bomb, true, 0), 5_000_000, 0);
    sim.block(vec![go]);
    let first = executed(&sim.block(vec![]));
    assert_eq!(
        first,
        vec![(
            "boom".to_string(),
            None,
            Err(ExecError::Failed("no".into()))
        )]
    );
    let second = executed(&sim.block(vec![]));
    assert_eq!(second, vec![("done".to_string(), Some(false), Ok(()))]);
    assert_eq!(
        sim.get(&caller, b"s"),
        Some(vec![0]),
        "the callback saw Err"
    );
    assert_eq!(sim.get(&caller, b"r"), Some(b"failed: no".to_vec()));
    assert_eq!(
        sim.get(&caller, b"m"),
        Some(vec![1u8]),
        "nothing rolled the caller back"
    );
}

#[test]
fn a_failed_receipt_refunds_its_value_to_the_caller() {
    let mut sim = Sim::new(ContractParams::default());
    let (_, _, caller) = setup(&mut sim);
    let nowhere = Address([0x42; 20]);
    // The transaction attaches 500 to the caller, which attaches 300 to its promise.
    let go = sim.call(caller, "go", go_args(&nowhere, false, 300), 5_000_000, 500);
    sim.block(vec![go]);
    assert_eq!(
        sim.state.get(&caller).balance,
        200,
        "300 travel with the receipt"
    );
    let ran = executed(&sim.block(vec![]));
    assert!(matches!(ran[0].2, Err(ExecError::NoContract(_))), "{ran:?}");
    assert_eq!(sim.state.get(&caller).balance, 500, "refunded");
    assert_eq!(sim.state.get(&nowhere).balance, 0);
}

#[test]
fn out_of_gas_reverts_only_its_own_execution_burns_the_gas_and_keeps_the_fee() {
    let mut sim = Sim::new(ContractParams::default());
    let spin = sim.deploy(SPINNER);
    let spinner = spin.to;
    sim.block(vec![spin]);
    let before = sim.state.get(&sim.key.address());
    let call = sim.call(spinner, "spin", vec![], 200_000, 1000);
    let records = sim.block(vec![call]);
    match &records[..] {
        [ExecRecord::Called {
            gas_burnt, result, ..
        }] => {
            assert_eq!(result, &Err(ExecError::OutOfGas));
            assert_eq!(*gas_burnt, 200_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.get(&spinner, b"x"), None, "its write is undone");
    assert_eq!(sim.state.get(&spinner).balance, 0, "its value is refunded");
    let after = sim.state.get(&sim.key.address());
    assert_eq!(
        after.nonce,
        before.nonce + 1,
        "the transaction was included"
    );
    assert_eq!(after.balance, before.balance - FEE, "only the fee is gone");
}

#[test]
fn receipts_past_the_block_gas_wait_for_the_next_block_in_order() {
    // Each go attaches 1 M gas to its call and 1 M to its callback. Both go in one block;
    // then a block's receipts may attach only 1.5 M: one receipt per block, oldest first.
    let mut sim = Sim::new(ContractParams::default());
    let (counter, _, caller) = setup(&mut sim);
    let a = sim.call(caller, "go", go_args(&counter, false, 0), 2_500_000, 0);
    let b = sim.call(caller, "go", go_args(&counter, false, 0), 2_500_000, 0);
    sim.block(vec![a, b]);
    sim.params.max_block_gas = 1_500_000;
    let mut order = Vec::new();
    for _ in 0..5 {
        let ran = executed(&sim.block(vec![]));
        assert!(ran.len() <= 1, "one receipt per block: {ran:?}");
        order.extend(ran.into_iter().map(|(m, _, r)| {
            assert_eq!(r, Ok(()));
            m
        }));
    }
    assert_eq!(order, ["increment", "increment", "done", "done"]);
    assert_eq!(counter_value(&sim, &counter), 2);
    assert!(sim.state.receipts().is_empty());
}

#[test]
fn a_bad_module_is_refused_before_any_block_with_the_reason() {
    let key = KeyPair::from_seed(b"deployer");
    let params = ContractParams::default();
    let bad = |src: &str| {
        let d = Deploy {
            code: wasm(src),
            init_args: vec![],
            gas: 1,
        };
        let tx = Transaction::new_deploy(&key, CHAIN_ID, d, 0, FEE, 0);
        check_tx(&tx, &tx.id(), CHAIN_ID, &params, None)
    };
    let floats = r#"(module (memory (export "memory") 1 1)
        (func (export "f") (drop (f64.add (f64.const 1) (f64.const 2)))))"#;
    assert!(matches!(
        bad(floats),
        Err(TxError::Deploy(DeployError::FloatingPoint(_)))
    ));
    let clock = r#"(module (import "wasi" "clock" (func)) (memory (export "memory") 1 1))"#;
    let e = bad(clock).unwrap_err();
    assert!(e.to_string().contains("`wasi.clock`"), "{e}");
    // A deploy sent anywhere but its derived address is refused too.
    let d = Deploy {
        code: wasm(BOMB),
        init_args: vec![],
        gas: 1,
    };
    let mut tx = Transaction::new_deploy(&key, CHAIN_ID, d, 0, FEE, 0);
    tx.to = contract_address(&key.address(), 1);
    assert!(matches!(
        check_tx(&tx, &tx.id(), CHAIN_ID, &params, None),
        Err(TxError::DeployAddress { .. })
    ));
    // A call whose fee does not buy its gas is refused, naming the price.
    let c = Call {
        method: "m".into(),
        args: vec![],
        gas: 5_000_001,
    };
    let cheap = Transaction::new_call(&key, CHAIN_ID, Address([1; 20]), c.clone(), 0, 5, 0);
    let e = check_tx(&cheap, &cheap.id(), CHAIN_ID, &params, None).unwrap_err();
    assert!(e.to_string().contains("at least 6"), "{e}");
    let paid = Transaction::new_call(&key, CHAIN_ID, Address([1; 20]), c, 0, 6, 0);
    assert_eq!(check_tx(&paid, &paid.id(), CHAIN_ID, &params, None), Ok(()));
}

#[test]
fn a_promise_without_the_least_receipt_gas_fails_its_execution() {
    let cheap = r#"(module
      (import "env" "self_address" (func $me (param i32)))
      (import "env" "promise_call" (func $pcall (param i32 i32 i32 i32 i32 i64 i64) (result i32)))
      (memory (export "memory") 1 1)
      (data (i32.const 100) "go")
      (func (export "go")
        (call $me (i32.const 0))
        (drop (call $pcall (i32.const 0) (i32.const 100) (i32.const 2)
          (i32.const 0) (i32.const 0) (i64.const 9999) (i64.const 0)))))"#;
    let mut sim = Sim::new(ContractParams::default());
    let d = sim.deploy(cheap);
    let c = d.to;
    sim.block(vec![d]);
    let go = sim.call(c, "go", vec![], 1_000_000, 0);
    match &sim.block(vec![go])[..] {
        [ExecRecord::Called {
            result: Err(ExecError::Host(why)),
            ..
        }] => assert!(why.contains("at least 10000 gas"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(sim.state.receipts().is_empty(), "no receipt was made");
}

// ---- through the chain: fork choice, reorgs ----

fn mine(chain: &mut ChainState, txs: &[Transaction], miner: Address, now: u64) -> Block {
    let mut b = chain
        .build_block(txs, Vec::new(), miner, now)
        .expect("fits");
    grind(&mut b.header, 0, u64::MAX).expect("a nonce exists");
    b
}

fn import(chain: &mut ChainState, b: &Block, now: u64) -> chainlab::chain::ImportOutcome {
    let checked = check_block(Arc::new(b.clone()), chain.params(), None).expect("checks");
    chain.import(checked, now, 0).expect("imports")
}

#[test]
fn a_reorg_across_a_receipt_runs_it_exactly_once_on_the_winning_branch() {
    let mut sim = Sim::new(ContractParams::default());
    let params = Arc::new(ChainParams::for_tests(vec![(sim.key.address(), FUNDS)]));
    let counter = sim.deploy(chainlab::contract::examples::source("counter").unwrap());
    let caller = sim.deploy(CALLER);
    let (counter_addr, caller_addr) = (counter.to, caller.to);
    let go = sim.call(
        caller_addr,
        "go",
        go_args(&counter_addr, false, 0),
        5_000_000,
        0,
    );

    let mut a = ChainState::new(params.clone());
    let mut b = ChainState::new(params.clone());
    let t = 10_000;
    let b1 = mine(&mut a, &[counter, caller], Address([1; 20]), t);
    import(&mut a, &b1, t);
    import(&mut b, &b1, t);
    // The call, on both branches: its receipt is due at height 3.
    let b2 = mine(&mut a, &[go], Address([1; 20]), 2 * t);
    import(&mut a, &b2, 2 * t);
    import(&mut b, &b2, 2 * t);
    // Branch A runs the receipt at height 3; branch B (two blocks) runs it at its height 3.
    let a3 = mine(&mut a, &[], Address([0xa; 20]), 3 * t);
    import(&mut a, &a3, 3 * t);
    let b3 = mine(&mut b, &[], Address([0xb; 20]), 3 * t + 1);
    import(&mut b, &b3, 3 * t + 1);
    let b4 = mine(&mut b, &[], Address([0xb; 20]), 4 * t);
    import(&mut b, &b4, 4 * t);
    assert_eq!(
        a.state().storage(&counter_addr, b"n"),
        Some(&1u64.to_le_bytes().to_vec())
    );

    import(&mut a, &b3, 3 * t + 1);
    let out = import(&mut a, &b4, 4 * t);
    let tc = out.tip_change.expect("the heavier branch wins");
    assert_eq!(tc.reorg_depth, 1);
    let ran: Vec<(u64, String)> = tc
        .records
        .iter()
        .flat_map(|(i, rs)| {
            let h = tc.connected[*i].header.height;
            executed(rs).into_iter().map(move |(m, _, _)| (h, m))
        })
        .collect();
    assert_eq!(
        ran,
        vec![(3, "increment".to_string()), (4, "done".to_string())],
        "the receipt ran once on the new branch, then its callback"
    );
    assert_eq!(
        a.state().storage(&counter_addr, b"n"),
        Some(&1u64.to_le_bytes().to_vec()),
        "reverted on the old branch, run again once on the new: 1, not 2"
    );
    assert_eq!(
        a.state(),
        b.state(),
        "the same state as the node that only saw B"
    );
    a.verify_replay().expect("replay equals the live state");
}

#[test]
fn a_tip_change_reports_accounts_a_contract_paid() {
    // `pay(to)` passes the value it was sent on to `to`, an account no transaction names.
    let payer = r#"(module
      (import "env" "input" (func $input (param i32)))
      (import "env" "attached_value" (func $value (result i64)))
      (import "env" "transfer" (func $transfer (param i32 i64)))
      (memory (export "memory") 1 1)
      (func (export "pay")
        (call $input (i32.const 0))
        (call $transfer (i32.const 0) (call $value))))"#;
    let mut sim = Sim::new(ContractParams::default());
    let params = Arc::new(ChainParams::for_tests(vec![(sim.key.address(), FUNDS)]));
    let deploy = sim.deploy(payer);
    let contract = deploy.to;
    let payee = Address([0x77; 20]);
    let pay = sim.call(contract, "pay", payee.0.to_vec(), 1_000_000, 500);
    let mut chain = ChainState::new(params);
    let b1 = mine(&mut chain, &[deploy], Address([1; 20]), 10_000);
    import(&mut chain, &b1, 10_000);
    let b2 = mine(&mut chain, &[pay], Address([1; 20]), 20_000);
    let tc = import(&mut chain, &b2, 20_000).tip_change.expect("extends");
    let paid = tc.changed.iter().find(|(a, _)| *a == payee);
    assert_eq!(
        paid.map(|(_, acc)| acc.balance),
        Some(500),
        "{:?}",
        tc.changed
    );
}
