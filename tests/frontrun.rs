//! Front-running the name registries, block by block (docs/contracts-frontrunning.md): the
//! registries of `contracts/` deployed and called through `chain::exec::execute_block` on a
//! genesis state, the attacker's copies made by `contract::frontrun::Frontrunner` with its
//! nonce from a mempool, and each block's order taken from a mempool template (by fee), as a
//! miner would. Public API only.

use chainlab::chain::exec::{execute_block, ExecRecord};
use chainlab::contract::frontrun::Frontrunner;
use chainlab::contract::{examples, vm, CallEnv, ExecError, Host};
use chainlab::hash::HashKey;
use chainlab::mempool::{Mempool, MempoolPolicy};
use chainlab::tx::{Call, Deploy};
use chainlab::{Address, ChainParams, Hash, KeyPair, State, Transaction};
use std::sync::Arc;

const SALT: [u8; 32] = [0x5a; 32];

/// A chain in the making: the state after its blocks, and the records of the last one.
struct Chain {
    params: ChainParams,
    state: State,
    height: u64,
    parent: Hash,
    victim: KeyPair,
    attacker: Frontrunner,
    contract: Address,
}

impl Chain {
    /// A genesis funding the victim and the attacker, then a block deploying example `name`
    /// (from the victim); the attacker watches `method` of it.
    fn new(name: &str, method: &str) -> Chain {
        let victim = KeyPair::from_seed(b"victim");
        let attacker_key = KeyPair::from_seed(b"attacker");
        let params = ChainParams::for_tests(vec![
            (victim.address(), 1_000_000),
            (attacker_key.address(), 1_000_000),
        ]);
        let genesis = params.genesis_block();
        let deploy = Transaction::new_deploy(
            &victim,
            params.chain_id,
            Deploy {
                code: examples::wasm(name).expect("an example"),
                init_args: Vec::new(),
                gas: 1_000_000,
            },
            0,
            1,
            0,
        );
        let contract = deploy.to;
        let attacker = Frontrunner::new(attacker_key, params.chain_id, contract, method, 2.0);
        let mut chain = Chain {
            state: params.genesis_state(),
            params,
            height: 0,
            parent: genesis.hash(),
            victim,
            attacker,
            contract,
        };
        let records = chain.mine(vec![deploy]);
        assert!(
            matches!(&records[..], [ExecRecord::Deployed { result: Ok(()), .. }]),
            "{records:?}"
        );
        chain
    }

    /// The victim's next call of `method` with `args`, paying `fee`.
    fn victim_call(&self, method: &str, args: Vec<u8>, fee: u64) -> Transaction {
        let call = Call {
            method: method.into(),
            args,
            gas: 1_000_000,
        };
        let nonce = self.state.get(&self.victim.address()).nonce;
        Transaction::new_call(
            &self.victim,
            self.params.chain_id,
            self.contract,
            call,
            0,
            fee,
            nonce,
        )
    }

    /// A mempool over the current state holding `txs` (in that order of arrival).
    fn pool(&self, txs: &[&Transaction]) -> Mempool {
        let policy = MempoolPolicy {
            chain_id: self.params.chain_id,
            max_txs: 100,
            max_nonce_gap: 16,
            min_fee: 1,
            expiry_ms: 60_000,
            replace_bump_percent: 10,
            contracts: self.params.contracts,
        };
        let accounts = self.state.accounts().clone();
        let mut pool = Mempool::new(policy, accounts, HashKey::default());
        for tx in txs {
            pool.admit(Arc::new((*tx).clone()), tx.id(), 0, None)
                .expect("admitted");
        }
        pool
    }

    /// What the attacker's node does on admitting `victim` to `pool`: the copy, with its next
    /// nonce there, admitted too.
    fn copy_into(&self, pool: &mut Mempool, victim: &Transaction) -> Transaction {
        let nonce = pool.next_nonce(&self.attacker.address());
        let copy = self.attacker.copy(victim, nonce).expect("a watched call");
        pool.admit(Arc::new(copy.clone()), copy.id(), 0, None)
            .expect("the copy is admitted");
        copy
    }

    /// Mines a block of `pool`'s template (best fee first, as a miner orders it).
    fn mine_pool(&mut self, pool: &Mempool) -> Vec<ExecRecord> {
        let txs = pool.template(100).iter().map(|t| (**t).clone()).collect();
        self.mine(txs)
    }

    /// Executes a block of `txs` in this order on the state; its records.
    fn mine(&mut self, txs: Vec<Transaction>) -> Vec<ExecRecord> {
        let mut block = self.params.genesis_block();
        self.height += 1;
        block.header.height = self.height;
        block.header.parent = self.parent;
        block.header.timestamp_ms = self.height * 10_000;
        block.header.miner = Address([0xee; 20]);
        block.txs = txs;
        let ids: Vec<Hash> = block.txs.iter().map(Transaction::id).collect();
        let done = execute_block(&mut self.state, &block, &ids, 50, &self.params.contracts)
            .unwrap_or_else(|(i, e)| panic!("tx {i} does not apply: {e}"));
        self.parent = block.hash();
        done.records
    }

    /// The owner of `name`, by running `owner_of` on the state.
    fn owner_of(&self, name: &[u8]) -> Result<Address, ExecError> {
        let code = self.state.code(&self.contract).expect("deployed");
        let mut host = ReadOnly {
            state: &self.state,
            contract: self.contract,
        };
        let env = CallEnv {
            contract: self.contract,
            caller: Address::default(),
            signer: Address::default(),
            value: 0,
            height: self.height,
            time_ms: 0,
            input: name,
            promise_result: None,
            gas_limit: 1_000_000,
        };
        let out = vm::execute(
            &code.hash,
            &code.wasm,
            "owner_of",
            &env,
            &mut host,
            &self.params.contracts,
        );
        out.result
            .map(|bytes| Address(bytes.try_into().expect("owner_of returns 20 bytes")))
    }
}

/// The state seen by a view call (which writes nothing).
struct ReadOnly<'a> {
    state: &'a State,
    contract: Address,
}

impl Host for ReadOnly<'_> {
    fn storage_read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.state.storage(&self.contract, key).cloned()
    }
    fn storage_write(&mut self, _: &[u8], _: &[u8]) {
        panic!("a view writes nothing")
    }
    fn storage_remove(&mut self, _: &[u8]) -> bool {
        panic!("a view removes nothing")
    }
    fn balance(&self) -> u64 {
        0
    }
    fn transfer(&mut self, _: Address, _: u64) -> Result<(), String> {
        Err("view".into())
    }
    fn debit(&mut self, _: u64) -> Result<(), String> {
        Err("view".into())
    }
}

/// `(tx, result)` of each call record.
fn calls(records: &[ExecRecord]) -> Vec<(Hash, Result<(), ExecError>)> {
    records
        .iter()
        .filter_map(|r| match r {
            ExecRecord::Called { tx, result, .. } => Some((*tx, result.clone())),
            _ => None,
        })
        .collect()
}

/// The bytes of each event record.
fn events(records: &[ExecRecord]) -> Vec<Vec<u8>> {
    records
        .iter()
        .filter_map(|r| match r {
            ExecRecord::Event { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

fn failed(why: &str) -> Result<(), ExecError> {
    Err(ExecError::Failed(why.into()))
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn a_copy_in_the_same_block_takes_the_name_on_the_first_come_registry() {
    let mut chain = Chain::new("registry", "register");
    let victim = chain.victim_call("register", b"alice".to_vec(), 100);
    let mut pool = chain.pool(&[&victim]);
    let copy = chain.copy_into(&mut pool, &victim);
    assert_eq!(copy.fee, 201);
    let records = chain.mine_pool(&pool);
    assert_eq!(
        calls(&records),
        vec![(copy.id(), Ok(())), (victim.id(), failed("taken"))],
        "the higher fee runs first"
    );
    let attacker = chain.attacker.address();
    assert_eq!(events(&records), vec![concat(&[b"alice", &attacker.0])]);
    assert_eq!(chain.owner_of(b"alice"), Ok(attacker));
    // Both paid their fees and used their nonces.
    assert_eq!(chain.state.get(&attacker).nonce, 1);
    assert_eq!(chain.state.get(&chain.victim.address()).nonce, 2);
}

#[test]
fn a_copy_that_comes_a_block_late_fails_and_copies_chain_their_nonces() {
    let mut chain = Chain::new("registry", "register");
    let first = chain.victim_call("register", b"alice".to_vec(), 100);
    // The block that includes the victim's call is mined before the copy reaches its miner.
    let records = chain.mine(vec![first.clone()]);
    assert_eq!(calls(&records), vec![(first.id(), Ok(()))]);
    let victim = chain.victim.address();
    assert_eq!(chain.owner_of(b"alice"), Ok(victim));
    // The attacker's pool still copies it (it had it pooled before the block came).
    let mut pool = chain.pool(&[]);
    let late = chain.copy_into(&mut pool, &first);
    // A second name, copied in time: the attacker's next copy takes the following nonce.
    let second = chain.victim_call("register", b"bob".to_vec(), 100);
    pool.admit(Arc::new(second.clone()), second.id(), 0, None)
        .unwrap();
    let copy = chain.copy_into(&mut pool, &second);
    assert_eq!((late.nonce, copy.nonce), (0, 1));
    let records = chain.mine_pool(&pool);
    assert_eq!(
        calls(&records),
        vec![
            (late.id(), failed("taken")),
            (copy.id(), Ok(())),
            (second.id(), failed("taken")),
        ]
    );
    assert_eq!(chain.owner_of(b"alice"), Ok(victim), "owners never change");
    assert_eq!(chain.owner_of(b"bob"), Ok(chain.attacker.address()));
    assert_eq!(
        chain.owner_of(b"carol"),
        Err(ExecError::Failed("not registered".into()))
    );
}

#[test]
fn the_registry_refuses_bad_names() {
    let mut chain = Chain::new("registry", "register");
    for name in [Vec::new(), vec![b'x'; 65]] {
        let tx = chain.victim_call("register", name, 1);
        let records = chain.mine(vec![tx.clone()]);
        assert_eq!(calls(&records), vec![(tx.id(), failed("bad arguments"))]);
    }
    let longest = chain.victim_call("register", vec![b'x'; 64], 1);
    let records = chain.mine(vec![longest.clone()]);
    assert_eq!(calls(&records), vec![(longest.id(), Ok(()))]);
}

/// The victim's commitment to `name`: sha256(name ++ salt ++ its address).
fn commitment(chain: &Chain, name: &[u8]) -> Vec<u8> {
    Hash::sha256(&concat(&[name, &SALT, &chain.victim.address().0]))
        .0
        .to_vec()
}

#[test]
fn a_copied_reveal_fails_on_commit_reveal_and_the_victim_keeps_the_name() {
    let mut chain = Chain::new("registry_commit", "reveal");
    let commit = chain.victim_call("commit", commitment(&chain, b"alice"), 100);
    assert!(
        chain.attacker.copy(&commit, 0).is_none(),
        "the attacker watches reveals"
    );
    let records = chain.mine(vec![commit.clone()]);
    assert_eq!(calls(&records), vec![(commit.id(), Ok(()))]);
    let reveal = chain.victim_call("reveal", concat(&[b"alice", &SALT]), 100);
    let mut pool = chain.pool(&[&reveal]);
    let copy = chain.copy_into(&mut pool, &reveal);
    let records = chain.mine_pool(&pool);
    assert_eq!(
        calls(&records),
        vec![(copy.id(), failed("no commitment")), (reveal.id(), Ok(()))],
        "the copy runs first and finds no commitment of the attacker's"
    );
    let victim = chain.victim.address();
    assert_eq!(events(&records), vec![concat(&[b"alice", &victim.0])]);
    assert_eq!(chain.owner_of(b"alice"), Ok(victim));
    // The commitment is used up: the same reveal again fails.
    let again = chain.victim_call("reveal", concat(&[b"alice", &SALT]), 100);
    let records = chain.mine(vec![again.clone()]);
    assert_eq!(calls(&records), vec![(again.id(), failed("no commitment"))]);
}

#[test]
fn a_copied_commit_gains_nothing() {
    // An attacker copying commits (and then reveals) on commit-reveal.
    let mut chain = Chain::new("registry_commit", "commit");
    let commit = chain.victim_call("commit", commitment(&chain, b"alice"), 100);
    let mut pool = chain.pool(&[&commit]);
    let copied_commit = chain.copy_into(&mut pool, &commit);
    let records = chain.mine_pool(&pool);
    assert_eq!(
        calls(&records),
        vec![(copied_commit.id(), Ok(())), (commit.id(), Ok(()))],
        "both commit the same hash, each under its own address"
    );
    let reveal = chain.victim_call("reveal", concat(&[b"alice", &SALT]), 100);
    let reveals = Frontrunner::new(
        KeyPair::from_seed(b"attacker"),
        chain.params.chain_id,
        chain.contract,
        "reveal",
        2.0,
    );
    let copied_reveal = reveals.copy(&reveal, 1).unwrap();
    let records = chain.mine(vec![copied_reveal.clone(), reveal.clone()]);
    assert_eq!(
        calls(&records),
        vec![
            (copied_reveal.id(), failed("no commitment")),
            (reveal.id(), Ok(()))
        ],
        "the attacker's copied commitment opens only for the victim's address"
    );
    assert_eq!(chain.owner_of(b"alice"), Ok(chain.victim.address()));
}

#[test]
fn a_reveal_needs_a_commitment_one_block_old_to_a_free_name() {
    let mut chain = Chain::new("registry_commit", "reveal");
    let commit = chain.victim_call("commit", commitment(&chain, b"alice"), 1);
    let mut reveal = chain.victim_call("reveal", concat(&[b"alice", &SALT]), 1);
    reveal = Transaction::new_with_payload(
        &chain.victim,
        reveal.chain_id,
        reveal.to,
        0,
        1,
        reveal.nonce + 1,
        reveal.payload.clone(),
    );
    let records = chain.mine(vec![commit.clone(), reveal.clone()]);
    assert_eq!(
        calls(&records),
        vec![
            (commit.id(), Ok(())),
            (reveal.id(), failed("commitment too recent"))
        ]
    );
    // A failed reveal keeps the commitment: one block later it opens.
    let wrong_salt = chain.victim_call("reveal", concat(&[b"alice", &[0; 32]]), 1);
    let records = chain.mine(vec![wrong_salt.clone()]);
    assert_eq!(
        calls(&records),
        vec![(wrong_salt.id(), failed("no commitment"))]
    );
    let reveal = chain.victim_call("reveal", concat(&[b"alice", &SALT]), 1);
    let records = chain.mine(vec![reveal.clone()]);
    assert_eq!(calls(&records), vec![(reveal.id(), Ok(()))]);
    // A used-up name stays taken, even for a new commitment; bad shapes are refused.
    let commit2 = chain.victim_call("commit", commitment(&chain, b"alice"), 1);
    chain.mine(vec![commit2]);
    let reveal2 = chain.victim_call("reveal", concat(&[b"alice", &SALT]), 1);
    let records = chain.mine(vec![reveal2.clone()]);
    assert_eq!(calls(&records), vec![(reveal2.id(), failed("taken"))]);
    for args in [vec![0; 31], vec![0; 32], vec![0; 97]] {
        let method = if args.len() == 31 { "commit" } else { "reveal" };
        let tx = chain.victim_call(method, args, 1);
        let records = chain.mine(vec![tx.clone()]);
        assert_eq!(calls(&records), vec![(tx.id(), failed("bad arguments"))]);
    }
}
