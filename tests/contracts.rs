//! The example contracts of `contracts/` do what their opening comments claim: each test
//! deploys and calls them in hand-built blocks executed one after another on one state
//! (`chain::exec::execute_block`: due receipts first, then the transactions), and checks
//! balances, contract storage and the execution records block by block.
//!
//! The timing every test relies on (`receipt_delay_blocks = 1`): a call in block h makes its
//! receipt due in h + 1; a callback waiting for that receipt runs in h + 2.

use chainlab::block::BLOCK_VERSION;
use chainlab::chain::exec::{execute_block, ExecRecord};
use chainlab::contract::{examples, vm, ContractParams, ExecError};
use chainlab::tx::{Call, Deploy};
use chainlab::{Address, Block, BlockHeader, Hash, KeyPair, Seal, State, Transaction};
use std::collections::BTreeMap;

const CHAIN_ID: u32 = 7;
const FEE: u64 = 1;
const GAS: u64 = 10_000_000;

/// A chain of hand-built blocks over one state.
struct Sim {
    state: State,
    params: ContractParams,
    height: u64,
    miner: Address,
    nonces: BTreeMap<Address, u64>,
    /// Every record so far, with its block's height.
    records: Vec<(u64, ExecRecord)>,
}

impl Sim {
    fn new(funded: &[(&KeyPair, u64)]) -> Sim {
        Sim {
            state: State::from_balances(funded.iter().map(|(k, v)| (k.address(), *v))),
            params: ContractParams::default(),
            height: 0,
            miner: KeyPair::from_seed(b"miner").address(),
            nonces: BTreeMap::new(),
            records: Vec::new(),
        }
    }

    fn nonce(&mut self, key: &KeyPair) -> u64 {
        let a = key.address();
        let next = self.state.get(&a).nonce;
        let n = self.nonces.entry(a).or_insert(next);
        *n += 1;
        *n - 1
    }

    /// A deploy of example `name`; the contract's address is the transaction's `to`.
    fn deploy(&mut self, key: &KeyPair, name: &str, init_args: Vec<u8>) -> Transaction {
        let d = Deploy {
            code: examples::wasm(name).unwrap(),
            init_args,
            gas: GAS,
        };
        let nonce = self.nonce(key);
        Transaction::new_deploy(key, CHAIN_ID, d, 0, FEE, nonce)
    }

    fn call(
        &mut self,
        key: &KeyPair,
        contract: Address,
        method: &str,
        args: Vec<u8>,
        value: u64,
    ) -> Transaction {
        let c = Call {
            method: method.into(),
            args,
            gas: GAS,
        };
        let nonce = self.nonce(key);
        Transaction::new_call(key, CHAIN_ID, contract, c, value, FEE, nonce)
    }

    fn transfer(&mut self, key: &KeyPair, to: Address, amount: u64) -> Transaction {
        let nonce = self.nonce(key);
        Transaction::new_signed(key, CHAIN_ID, to, amount, FEE, nonce)
    }

    /// Executes the next block with `txs`; returns its records.
    fn block(&mut self, txs: Vec<Transaction>) -> Vec<ExecRecord> {
        self.height += 1;
        let block = Block {
            header: BlockHeader {
                version: BLOCK_VERSION,
                parent: Hash::ZERO,
                height: self.height,
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                timestamp_ms: self.height * 10_000,
                miner: self.miner,
                seal: Seal::Pow {
                    difficulty: 1,
                    nonce: 0,
                },
            },
            txs,
            items: Vec::new(),
        };
        let ids = block.tx_ids();
        let done = execute_block(&mut self.state, &block, &ids, 0, &self.params)
            .unwrap_or_else(|(i, e)| panic!("block {}: tx {i}: {e}", self.height));
        for r in &done.records {
            self.records.push((self.height, r.clone()));
        }
        done.records
    }

    /// Empty blocks, so that receipts and callbacks in flight run.
    fn idle(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.block(Vec::new());
        }
    }

    fn balance(&self, a: &Address) -> u64 {
        self.state.get(a).balance
    }

    fn storage(&self, contract: &Address, key: &[u8]) -> Option<Vec<u8>> {
        self.state.storage(contract, key).cloned()
    }

    fn storage_u64(&self, contract: &Address, key: &[u8]) -> u64 {
        self.storage(contract, key).map_or(0, |v| u64_of(&v))
    }

    fn tokens(&self, token: &Address, holder: &Address) -> u64 {
        self.storage_u64(token, &examples::token_balance_key(holder))
    }

    /// The events `contract` emitted, with their heights.
    fn events(&self, contract: &Address) -> Vec<(u64, Vec<u8>)> {
        self.records
            .iter()
            .filter_map(|(h, r)| match r {
                ExecRecord::Event { contract: c, data } if c == contract => {
                    Some((*h, data.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The log lines `contract` wrote.
    fn logs(&self, contract: &Address) -> Vec<String> {
        self.records
            .iter()
            .filter_map(|(_, r)| match r {
                ExecRecord::Log { contract: c, line } if c == contract => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    /// `(height, callback, result)` of each run of receipts of `method` on `contract`.
    fn receipts(
        &self,
        contract: &Address,
        method: &str,
    ) -> Vec<(u64, Option<bool>, Result<(), ExecError>)> {
        self.records
            .iter()
            .filter_map(|(h, r)| match r {
                ExecRecord::ReceiptExecuted {
                    receiver,
                    method: m,
                    callback,
                    result,
                    ..
                } if receiver == contract && m == method => Some((*h, *callback, result.clone())),
                _ => None,
            })
            .collect()
    }
}

fn u64_of(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn le(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

/// The result of the call transaction in `records` (the only call of `method`).
fn called(records: &[ExecRecord], method: &str) -> Result<(), ExecError> {
    let mut found = records.iter().filter_map(|r| match r {
        ExecRecord::Called {
            method: m, result, ..
        } if m == method => Some(result.clone()),
        _ => None,
    });
    let r = found
        .next()
        .unwrap_or_else(|| panic!("no call of {method}"));
    assert!(found.next().is_none(), "more than one call of {method}");
    r
}

/// The results of the calls in `records`, in order.
fn call_results(records: &[ExecRecord]) -> Vec<Result<(), ExecError>> {
    records
        .iter()
        .filter_map(|r| match r {
            ExecRecord::Called { result, .. } => Some(result.clone()),
            _ => None,
        })
        .collect()
}

fn deployed(records: &[ExecRecord]) -> Vec<Address> {
    records
        .iter()
        .map(|r| match r {
            ExecRecord::Deployed {
                contract, result, ..
            } => {
                assert_eq!(result, &Ok(()), "deploy");
                *contract
            }
            r => panic!("not a deploy: {r:?}"),
        })
        .collect()
}

fn failed(msg: &str) -> Result<(), ExecError> {
    Err(ExecError::Failed(msg.into()))
}

/// An event is `tag` followed by `fields` bytes.
fn tag_of(data: &[u8], fields: usize) -> &str {
    std::str::from_utf8(&data[..data.len() - fields]).unwrap()
}

#[test]
fn every_example_passes_the_deploy_checks() {
    for (name, _) in examples::EXAMPLES {
        let wasm = examples::wasm(name).unwrap();
        vm::check_module(&wasm, &ContractParams::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let names: Vec<&str> = examples::EXAMPLES.iter().map(|(n, _)| *n).collect();
    for n in ["escrow", "exchange", "vault_naive", "vault_fixed"] {
        assert!(names.contains(&n), "{n} is registered");
    }
}

// ---- escrow ----

struct Escrow {
    sim: Sim,
    escrow: Address,
    buyer: KeyPair,
    seller: KeyPair,
}

/// The escrow deployed in block 1 and a deal of 1,000 opened by the buyer in block 2 with a
/// timeout of `timeout` blocks (its deadline is 2 + timeout).
fn escrow_with_a_deal(timeout: u64, buyer_funds: u64, extra: &[(&KeyPair, u64)]) -> Escrow {
    let operator = KeyPair::from_seed(b"operator");
    let buyer = KeyPair::from_seed(b"buyer");
    let seller = KeyPair::from_seed(b"seller");
    let mut funded = vec![
        (&operator, 1_000_000),
        (&buyer, buyer_funds),
        (&seller, 1_000),
    ];
    funded.extend_from_slice(extra);
    let mut sim = Sim::new(&funded);
    let tx = sim.deploy(&operator, "escrow", Vec::new());
    let escrow = deployed(&sim.block(vec![tx]))[0];
    let open = sim.call(
        &buyer,
        escrow,
        "open",
        cat(&[&seller.address().0, &le(timeout)]),
        1_000,
    );
    assert_eq!(called(&sim.block(vec![open]), "open"), Ok(()));
    Escrow {
        sim,
        escrow,
        buyer,
        seller,
    }
}

fn deal_key(buyer: &Address) -> Vec<u8> {
    cat(&[b"d", &buyer.0])
}

/// The deal's (amount, deadline, state) and that its seller is `seller`.
fn deal(e: &Escrow) -> Option<(u64, u64, u8)> {
    let d = e.sim.storage(&e.escrow, &deal_key(&e.buyer.address()))?;
    assert_eq!(d.len(), 37);
    assert_eq!(d[..20], e.seller.address().0);
    Some((u64_of(&d[20..]), u64_of(&d[28..]), d[36]))
}

#[test]
fn escrow_confirm_pays_the_seller_at_once() {
    let mut e = escrow_with_a_deal(5, 1_000_000, &[]);
    assert_eq!(
        deal(&e),
        Some((1_000, 7, 0)),
        "opened at 2 with a timeout of 5"
    );
    assert_eq!(
        e.sim.balance(&e.escrow),
        1_000,
        "the escrow holds the value"
    );
    let stranger = KeyPair::from_seed(b"operator");
    let seller_before = e.sim.balance(&e.seller.address());
    let txs = vec![
        e.sim.call(&stranger, e.escrow, "confirm", Vec::new(), 0),
        e.sim.call(&e.buyer, e.escrow, "refund", Vec::new(), 0),
        e.sim.call(
            &e.seller,
            e.escrow,
            "payout",
            e.seller.address().0.to_vec(),
            0,
        ),
        e.sim.call(&e.buyer, e.escrow, "confirm", Vec::new(), 0),
    ];
    let rec = e.sim.block(txs);
    assert_eq!(
        call_results(&rec),
        vec![
            failed("no deal"),
            failed("the deadline has not passed"),
            failed("only the escrow calls this"),
            Ok(())
        ]
    );
    assert_eq!(
        e.sim.balance(&e.seller.address()),
        seller_before + 1_000 - FEE,
        "paid in the block of the confirmation (less the seller's own fee)"
    );
    assert_eq!(e.sim.balance(&e.escrow), 0);
    assert_eq!(deal(&e), None, "the deal is closed");
    let tags: Vec<String> = e
        .sim
        .events(&e.escrow)
        .iter()
        .map(|(_, d)| tag_of(d, 56).to_string())
        .collect();
    assert_eq!(tags, ["opened", "released"]);
    let (_, released) = &e.sim.events(&e.escrow)[1];
    let f = &released[8..];
    assert_eq!(f[..20], e.buyer.address().0);
    assert_eq!(f[20..40], e.seller.address().0);
    assert_eq!((u64_of(&f[40..]), u64_of(&f[48..])), (1_000, 7));
}

#[test]
fn escrow_refunds_in_a_callback_after_the_deadline() {
    let mut e = escrow_with_a_deal(2, 1_000_000, &[]);
    assert_eq!(deal(&e), Some((1_000, 4, 0)));
    for h in [3, 4] {
        let tx = e.sim.call(&e.buyer, e.escrow, "refund", Vec::new(), 0);
        let rec = e.sim.block(vec![tx]);
        assert_eq!(e.sim.height, h);
        assert_eq!(
            called(&rec, "refund"),
            failed("the deadline has not passed"),
            "at height {h}, the deadline 4 included"
        );
    }
    // Height 5: the refund is made; while it is in flight the deal cannot be touched.
    let txs = vec![
        e.sim.call(&e.buyer, e.escrow, "refund", Vec::new(), 0),
        e.sim.call(&e.buyer, e.escrow, "confirm", Vec::new(), 0),
        e.sim.call(&e.buyer, e.escrow, "refund", Vec::new(), 0),
    ];
    let rec = e.sim.block(txs);
    assert_eq!(
        call_results(&rec),
        vec![
            Ok(()),
            failed("a refund is in flight"),
            failed("a refund is in flight")
        ]
    );
    assert_eq!(deal(&e), Some((1_000, 4, 1)), "refunding");
    assert_eq!(
        e.sim.balance(&e.escrow),
        0,
        "the value travels with the payout receipt"
    );
    let buyer_before = e.sim.balance(&e.buyer.address());
    e.sim.idle(1);
    assert_eq!(
        e.sim.balance(&e.buyer.address()),
        buyer_before + 1_000,
        "height 6: the payout receipt paid the buyer"
    );
    assert_eq!(
        deal(&e),
        Some((1_000, 4, 1)),
        "the callback has not run yet"
    );
    e.sim.idle(1);
    assert_eq!(deal(&e), None, "height 7: the callback closed the deal");
    assert_eq!(e.sim.receipts(&e.escrow, "payout"), vec![(6, None, Ok(()))]);
    assert_eq!(
        e.sim.receipts(&e.escrow, "on_refunded"),
        vec![(7, Some(true), Ok(()))]
    );
    let tags: Vec<(u64, String)> = e
        .sim
        .events(&e.escrow)
        .iter()
        .map(|(h, d)| (*h, tag_of(d, 56).to_string()))
        .collect();
    assert_eq!(
        tags,
        [
            (2, "opened".to_string()),
            (5, "refunding".to_string()),
            (7, "refunded".to_string())
        ]
    );
    assert_eq!(e.sim.balance(&e.escrow), 0);
    e.sim.idle(3);
    assert_eq!(
        e.sim.balance(&e.buyer.address()),
        buyer_before + 1_000,
        "paid once"
    );
}

#[test]
fn escrow_reopens_the_deal_when_the_refund_cannot_be_paid() {
    let whale = KeyPair::from_seed(b"whale");
    let mut e = escrow_with_a_deal(1, 10_000, &[(&whale, u64::MAX - 1)]);
    e.sim.idle(1);
    // Height 4 (deadline 3): the refund, then a transfer that leaves the buyer 500 short of
    // u64::MAX, so the payout of 1,000 in block 5 would overflow its balance.
    let refund = e.sim.call(&e.buyer, e.escrow, "refund", Vec::new(), 0);
    let top_up = u64::MAX - 500 - (e.sim.balance(&e.buyer.address()) - FEE);
    let gift = e.sim.transfer(&whale, e.buyer.address(), top_up);
    assert_eq!(called(&e.sim.block(vec![refund, gift]), "refund"), Ok(()));
    assert_eq!(e.sim.balance(&e.buyer.address()), u64::MAX - 500);
    e.sim.idle(2);
    let payout = e.sim.receipts(&e.escrow, "payout");
    assert_eq!(payout.len(), 1);
    assert!(
        matches!(&payout[0], (5, None, Err(ExecError::Host(m))) if m.contains("overflow")),
        "{payout:?}"
    );
    assert_eq!(
        e.sim.receipts(&e.escrow, "on_refunded"),
        vec![(6, Some(false), Ok(()))]
    );
    assert_eq!(deal(&e), Some((1_000, 3, 0)), "open again");
    assert_eq!(
        e.sim.balance(&e.escrow),
        1_000,
        "the failed receipt's value came back"
    );
    let logs = e.sim.logs(&e.escrow);
    assert_eq!(logs.len(), 1);
    assert!(
        logs[0].contains("overflow"),
        "the callback logs why: {logs:?}"
    );
    let last = e.sim.events(&e.escrow).pop().unwrap();
    assert_eq!((last.0, tag_of(&last.1, 56)), (6, "refund failed"));
    // The buyer makes room and asks again: this time it is paid.
    let back = e.sim.transfer(&e.buyer, whale.address(), top_up);
    let again = e.sim.call(&e.buyer, e.escrow, "refund", Vec::new(), 0);
    let rec = e.sim.block(vec![back, again]);
    assert_eq!(called(&rec, "refund"), Ok(()));
    let before = e.sim.balance(&e.buyer.address());
    e.sim.idle(2);
    assert_eq!(e.sim.balance(&e.buyer.address()), before + 1_000);
    assert_eq!(deal(&e), None);
    assert_eq!(e.sim.balance(&e.escrow), 0);
}

// ---- exchange ----

struct Exchange {
    sim: Sim,
    token: Address,
    exchange: Address,
    buyer: KeyPair,
}

const PRICE: u64 = 3;

/// A token of 1,000 and an exchange selling it at 3 deployed in block 1; the exchange
/// stocked with 500 tokens in block 2.
fn exchange() -> Exchange {
    let owner = KeyPair::from_seed(b"owner");
    let buyer = KeyPair::from_seed(b"buyer");
    let mut sim = Sim::new(&[(&owner, 1_000_000), (&buyer, 1_000_000)]);
    let t = sim.deploy(&owner, "token", le(1_000).to_vec());
    let token = t.to;
    let x = sim.deploy(&owner, "exchange", cat(&[&token.0, &le(PRICE)]));
    let exchange = x.to;
    assert_eq!(deployed(&sim.block(vec![t, x])), [token, exchange]);
    let stock = sim.call(&owner, token, "transfer", cat(&[&exchange.0, &le(500)]), 0);
    assert_eq!(called(&sim.block(vec![stock]), "transfer"), Ok(()));
    assert_eq!(sim.tokens(&token, &exchange), 500);
    Exchange {
        sim,
        token,
        exchange,
        buyer,
    }
}

impl Exchange {
    fn stats(&self) -> (u64, u64) {
        (
            self.sim.storage_u64(&self.exchange, b"s"),
            self.sim.storage_u64(&self.exchange, b"r"),
        )
    }

    fn tags(&self) -> Vec<(u64, String)> {
        self.sim
            .events(&self.exchange)
            .iter()
            .map(|(h, d)| (*h, tag_of(d, 36).to_string()))
            .collect()
    }
}

#[test]
fn exchange_sells_through_the_token_and_books_the_sale_in_the_callback() {
    let mut x = exchange();
    let me = x.buyer.address();
    let before = x.sim.balance(&me);
    let buy = x
        .sim
        .call(&x.buyer, x.exchange, "buy", le(100).to_vec(), 300);
    assert_eq!(called(&x.sim.block(vec![buy]), "buy"), Ok(()));
    assert_eq!(x.sim.balance(&me), before - 300 - FEE);
    assert_eq!(
        x.sim.balance(&x.exchange),
        300,
        "held until the token answers"
    );
    assert_eq!(x.sim.tokens(&x.token, &me), 0);
    x.sim.idle(1);
    assert_eq!(x.sim.tokens(&x.token, &me), 100, "height 4: the token paid");
    assert_eq!(x.sim.tokens(&x.token, &x.exchange), 400);
    assert_eq!(x.stats(), (0, 0), "not booked before the callback");
    x.sim.idle(1);
    assert_eq!(
        x.stats(),
        (100, 300),
        "height 5: the callback booked the sale"
    );
    assert_eq!(x.sim.balance(&x.exchange), 300);
    assert_eq!(x.sim.balance(&me), before - 300 - FEE);
    assert_eq!(
        x.sim.receipts(&x.token, "transfer"),
        vec![(4, None, Ok(()))]
    );
    assert_eq!(
        x.sim.receipts(&x.exchange, "on_bought"),
        vec![(5, Some(true), Ok(()))]
    );
    assert_eq!(
        x.tags(),
        [(3, "ordered".to_string()), (5, "sold".to_string())]
    );
    let (_, sold) = &x.sim.events(&x.exchange)[1];
    assert_eq!(
        sold[4..],
        cat(&[&me.0, &le(100), &le(300)]),
        "sold: buyer, amount, value"
    );
    assert!(x.sim.logs(&x.exchange).is_empty());
}

#[test]
fn a_failing_token_transfer_reaches_the_callback_which_refunds() {
    let mut x = exchange();
    let me = x.buyer.address();
    let before = x.sim.balance(&me);
    // A wrong value fails at once, and the value goes back with the failed call.
    let wrong = x.sim.call(&x.buyer, x.exchange, "buy", le(10).to_vec(), 29);
    // A direct call of the callback would "refund" value never paid: refused.
    let forged = x.sim.call(
        &x.buyer,
        x.exchange,
        "on_bought",
        cat(&[&me.0, &le(0), &le(300)]),
        0,
    );
    // More than the exchange's stock of 500.
    let buy = x
        .sim
        .call(&x.buyer, x.exchange, "buy", le(600).to_vec(), 1_800);
    let rec = x.sim.block(vec![wrong, forged, buy]);
    assert_eq!(
        call_results(&rec),
        vec![
            failed("value must be amount x price"),
            failed("only the exchange calls its callbacks"),
            Ok(())
        ]
    );
    assert_eq!(x.sim.balance(&me), before - 1_800 - 3 * FEE);
    assert_eq!(x.sim.balance(&x.exchange), 1_800);
    x.sim.idle(1);
    assert_eq!(
        x.sim.receipts(&x.token, "transfer"),
        vec![(4, None, failed("insufficient balance"))],
        "height 4: the token refused"
    );
    assert_eq!(x.sim.tokens(&x.token, &x.exchange), 500);
    assert_eq!(
        x.sim.balance(&x.exchange),
        1_800,
        "not refunded before the callback"
    );
    x.sim.idle(1);
    assert_eq!(
        x.sim.receipts(&x.exchange, "on_bought"),
        vec![(5, Some(false), Ok(()))],
        "height 5: the callback was given the error, and ran"
    );
    assert_eq!(
        x.sim.logs(&x.exchange),
        ["failed: insufficient balance"],
        "the callee's error as the callback read it with promise_result"
    );
    assert_eq!(x.sim.balance(&me), before - 3 * FEE, "the value is back");
    assert_eq!(x.sim.balance(&x.exchange), 0);
    assert_eq!(x.sim.tokens(&x.token, &me), 0);
    assert_eq!(x.stats(), (0, 0));
    assert_eq!(
        x.tags(),
        [(3, "ordered".to_string()), (5, "refunded".to_string())]
    );
}

// ---- vaults ----

struct Vault {
    sim: Sim,
    token: Address,
    vault: Address,
    a: KeyPair,
    b: KeyPair,
}

/// A token of 1,000 and vault `name` deployed in block 1; 100 tokens each to A and B in
/// block 2; both deposit them with `transfer_call` in block 3; the vault books them when the
/// token's notifications run in block 4.
fn vault(name: &str) -> Vault {
    let owner = KeyPair::from_seed(b"owner");
    let a = KeyPair::from_seed(b"A");
    let b = KeyPair::from_seed(b"B");
    let mut sim = Sim::new(&[(&owner, 1_000_000), (&a, 1_000_000), (&b, 1_000_000)]);
    let t = sim.deploy(&owner, "token", le(1_000).to_vec());
    let token = t.to;
    let v = sim.deploy(&owner, name, token.0.to_vec());
    let vault = v.to;
    sim.block(vec![t, v]);
    let txs = vec![
        sim.call(
            &owner,
            token,
            "transfer",
            cat(&[&a.address().0, &le(100)]),
            0,
        ),
        sim.call(
            &owner,
            token,
            "transfer",
            cat(&[&b.address().0, &le(100)]),
            0,
        ),
    ];
    sim.block(txs);
    let txs = vec![
        sim.call(&a, token, "transfer_call", cat(&[&vault.0, &le(100)]), 0),
        sim.call(&b, token, "transfer_call", cat(&[&vault.0, &le(100)]), 0),
    ];
    assert_eq!(call_results(&sim.block(txs)), [Ok(()), Ok(())]);
    let mut v = Vault {
        sim,
        token,
        vault,
        a,
        b,
    };
    assert_eq!(v.books(&v.a), 0, "not booked before the notification runs");
    assert_eq!(v.holds(), 200, "the tokens moved with the transfer_call");
    v.sim.idle(1);
    assert_eq!(v.sim.receipts(&vault, "on_tokens").len(), 2);
    assert_eq!((v.books(&v.a), v.books(&v.b), v.total()), (100, 100, 200));
    assert_eq!(v.holds(), 200);
    v
}

impl Vault {
    fn books(&self, who: &KeyPair) -> u64 {
        self.sim
            .storage_u64(&self.vault, &cat(&[b"b", &who.address().0]))
    }

    fn total(&self) -> u64 {
        self.sim.storage_u64(&self.vault, b"T")
    }

    /// Tokens the vault holds.
    fn holds(&self) -> u64 {
        self.sim.tokens(&self.token, &self.vault)
    }

    fn tokens(&self, who: &KeyPair) -> u64 {
        self.sim.tokens(&self.token, &who.address())
    }

    fn withdraw(&mut self, who: &str, amount: u64) -> Transaction {
        let key = if who == "A" { &self.a } else { &self.b };
        self.sim
            .call(key, self.vault, "withdraw", le(amount).to_vec(), 0)
    }

    /// A withdraws 100 in block 5 and again `gap` blocks later (in the same block for 0);
    /// then blocks run until every receipt settled. The results of the two withdrawals.
    fn attack(&mut self, gap: u64) -> Vec<Result<(), ExecError>> {
        let first = self.withdraw("A", 100);
        if gap == 0 {
            let second = self.withdraw("A", 100);
            let rec = self.sim.block(vec![first, second]);
            assert_eq!(self.sim.height, 5);
            self.sim.idle(3);
            return call_results(&rec);
        }
        let mut results = call_results(&self.sim.block(vec![first]));
        self.sim.idle(gap - 1);
        let second = self.withdraw("A", 100);
        results.extend(call_results(&self.sim.block(vec![second])));
        self.sim.idle(3);
        results
    }

    fn tags(&self) -> Vec<String> {
        self.sim
            .events(&self.vault)
            .iter()
            .map(|(_, d)| tag_of(d, 28).to_string())
            .collect()
    }
}

#[test]
fn naive_vault_pays_a_second_withdrawal_in_flight_out_of_another_users_deposit() {
    for gap in [0, 1] {
        let mut v = vault("vault_naive");
        assert_eq!(
            v.attack(gap),
            [Ok(()), Ok(())],
            "gap {gap}: both pass the check"
        );
        assert_eq!(v.tokens(&v.a), 200, "gap {gap}: A took 200 on books of 100");
        assert_eq!(v.holds(), 0, "gap {gap}: the vault is empty");
        assert_eq!(
            (v.books(&v.a), v.books(&v.b), v.total()),
            (0, 100, 100),
            "gap {gap}: the books still owe B 100"
        );
        let cbs = v.sim.receipts(&v.vault, "on_withdrawn");
        assert_eq!(cbs.len(), 2);
        assert_eq!(
            (cbs[0].1, cbs[0].2.clone()),
            (Some(true), Ok(())),
            "gap {gap}"
        );
        assert_eq!(
            (cbs[1].1, cbs[1].2.clone()),
            (Some(true), failed("books underflow")),
            "gap {gap}: the second callback finds the books short, after the tokens left"
        );
        assert_eq!(
            v.tags(),
            ["deposit", "deposit", "withdraw", "withdraw", "paid"],
            "gap {gap}"
        );
        // B's 100 can no longer be paid: the check passes, the token refuses.
        let w = v.withdraw("B", 100);
        assert_eq!(call_results(&v.sim.block(vec![w])), [Ok(())]);
        v.sim.idle(2);
        let transfers = v.sim.receipts(&v.token, "transfer");
        assert_eq!(transfers.len(), 3);
        assert_eq!(transfers[2].2, failed("insufficient balance"), "gap {gap}");
        assert_eq!(v.sim.receipts(&v.vault, "on_withdrawn")[2].1, Some(false));
        assert_eq!(v.tokens(&v.b), 0);
        assert_eq!(v.books(&v.b), 100, "owed, and nothing to pay it with");
        assert_eq!(v.tags().last().map(String::as_str), Some("failed"));
    }
}

#[test]
fn naive_vault_refuses_a_second_withdrawal_once_the_first_has_settled() {
    // The first withdrawal's callback runs two blocks after it, before the transactions of
    // that block: from then on the books show it.
    let mut v = vault("vault_naive");
    assert_eq!(v.attack(2), [Ok(()), failed("insufficient books")]);
    assert_eq!((v.tokens(&v.a), v.holds()), (100, 100));
    assert_eq!((v.books(&v.a), v.books(&v.b), v.total()), (0, 100, 100));
}

#[test]
fn fixed_vault_refuses_the_second_withdrawal_and_keeps_b_s_deposit() {
    for gap in [0, 1, 2] {
        let mut v = vault("vault_fixed");
        assert_eq!(
            v.attack(gap),
            [Ok(()), failed("insufficient books")],
            "gap {gap}"
        );
        assert_eq!(v.tokens(&v.a), 100, "gap {gap}: A got its own 100");
        assert_eq!(v.holds(), 100, "gap {gap}: B's 100 is still in the vault");
        assert_eq!(
            (v.books(&v.a), v.books(&v.b), v.total()),
            (0, 100, 100),
            "gap {gap}"
        );
        assert_eq!(
            v.sim.receipts(&v.vault, "on_withdrawn"),
            vec![(7, Some(true), Ok(()))],
            "gap {gap}: the first withdrawal's callback, two blocks after it"
        );
        assert_eq!(v.tags(), ["deposit", "deposit", "withdraw", "paid"]);
        let w = v.withdraw("B", 100);
        assert_eq!(call_results(&v.sim.block(vec![w])), [Ok(())]);
        v.sim.idle(2);
        assert_eq!(v.tokens(&v.b), 100, "gap {gap}: B is paid");
        assert_eq!((v.holds(), v.total()), (0, 0));
    }
}

#[test]
fn fixed_vault_restores_the_books_when_the_transfer_fails() {
    // A vault whose "token" is a plain account: its owner books deposits by calling
    // on_tokens itself, and the vault's transfer calls fail (no contract there).
    let owner = KeyPair::from_seed(b"owner");
    let a = KeyPair::from_seed(b"A");
    let mut sim = Sim::new(&[(&owner, 1_000_000), (&a, 1_000_000)]);
    let v = sim.deploy(&owner, "vault_fixed", owner.address().0.to_vec());
    let vault = v.to;
    sim.block(vec![v]);
    let txs = vec![
        sim.call(&a, vault, "on_tokens", cat(&[&a.address().0, &le(100)]), 0),
        sim.call(
            &owner,
            vault,
            "on_tokens",
            cat(&[&a.address().0, &le(100)]),
            0,
        ),
    ];
    assert_eq!(
        call_results(&sim.block(txs)),
        [failed("only the token credits deposits"), Ok(())]
    );
    let books = |sim: &Sim| sim.storage_u64(&vault, &cat(&[b"b", &a.address().0]));
    assert_eq!(books(&sim), 100);
    let w = sim.call(&a, vault, "withdraw", le(100).to_vec(), 0);
    assert_eq!(call_results(&sim.block(vec![w])), [Ok(())]);
    assert_eq!(books(&sim), 0, "debited at once");
    assert_eq!(sim.storage_u64(&vault, b"T"), 0);
    sim.idle(2);
    assert_eq!(
        sim.receipts(&vault, "on_withdrawn"),
        vec![(5, Some(false), Ok(()))]
    );
    assert_eq!(books(&sim), 100, "restored by the callback");
    assert_eq!(sim.storage_u64(&vault, b"T"), 100);
    let tags: Vec<String> = sim
        .events(&vault)
        .iter()
        .map(|(_, d)| tag_of(d, 28).to_string())
        .collect();
    assert_eq!(tags, ["deposit", "withdraw", "restored"]);
}
