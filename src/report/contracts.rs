//! What the contracts did on the final best chain (`report.contracts`, docs/contracts.md):
//! counted from the execution records of its blocks, so every figure is the one chain's
//! history, not a sum over nodes.

use super::trace::Trace;
use super::{Event, FinalBlock, Percentiles};
use crate::chain::exec::ExecRecord;
use crate::contract::ExecError;
use crate::crypto::Address;
use crate::hash::TxId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `contracts`: contract work on the final best chain.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContractStats {
    /// Deploys that stand (their `init` succeeded, or they had none).
    pub deployed: u64,
    /// Deploys whose `init` failed (the fee was paid, nothing deployed).
    pub deploys_failed: u64,
    /// Call transactions run.
    pub calls: u64,
    /// Of them, those that failed.
    pub calls_failed: u64,
    /// Receipts made, run and failed.
    pub receipts: ReceiptStats,
    /// Callbacks run, by the result they were given.
    pub callbacks: CallbackStats,
    /// Executions (calls, receipts, `init`s) that ran out of gas.
    pub out_of_gas: u64,
    /// Gas burnt by every execution.
    pub gas_used: u64,
    /// Blocks from a receipt's creation to its execution.
    pub receipt_delay_blocks: Percentiles,
    /// Events emitted and lines logged by successful executions.
    pub events: u64,
    /// Per contract, by address (hex): what ran on it.
    pub by_contract: BTreeMap<String, PerContract>,
    /// The scenario's `[[views]]`, by name: read-only calls on the final state.
    pub views: BTreeMap<String, ViewValue>,
    /// What the `[frontrun]` attacker's copies won (absent without `[frontrun]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontrun: Option<FrontrunStats>,
}

/// `contracts.views.<name>`: what a view returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ViewValue {
    /// The return value read as a little-endian u64, when it is 8 bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// The return value, hex.
    pub hex: String,
    /// Why the call failed (absent on success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ViewValue {
    /// From a view's result.
    pub fn of(result: &Result<Vec<u8>, String>) -> ViewValue {
        match result {
            Ok(bytes) => ViewValue {
                value: <[u8; 8]>::try_from(bytes.as_slice())
                    .ok()
                    .map(u64::from_le_bytes),
                hex: hex::encode(bytes),
                error: None,
            },
            Err(e) => ViewValue {
                error: Some(e.clone()),
                ..ViewValue::default()
            },
        }
    }
}

/// `contracts.frontrun`: the `[frontrun]` attacker's copies (its `frontrun` trace events)
/// against the final best chain (docs/contracts-frontrunning.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FrontrunStats {
    /// Calls of the watched method by others: those on the final best chain and those the
    /// attacker copied.
    pub victim_calls: u64,
    /// Copies the attacker made.
    pub attempts: u64,
    /// Victim calls it never copied (mined before they reached its mempool).
    pub missed: u64,
    /// Copies on the final best chain.
    pub included: u64,
    /// Copies whose call succeeded on the final best chain. Against the registries
    /// (contracts/registry.wat, registry_commit.wat) a call that succeeds makes its caller the
    /// name's owner for good, so these are the names the attacker owns among those it copied.
    pub wins: u64,
    /// Victim calls that succeeded on the final best chain (the victim got the name).
    pub victim_wins: u64,
    /// `wins / attempts` (0 without attempts).
    pub win_rate: f64,
    /// `wins / victim_calls`: the share of the victims' calls the attacker beat, those it
    /// missed counted as lost (0 without victim calls).
    pub taken_rate: f64,
}

/// What the `[frontrun]` attacker watches, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontrunWatch {
    /// The contract.
    pub contract: Address,
    /// The method.
    pub method: String,
}

impl FrontrunStats {
    /// The copies traced in `events` and the calls `watch` names, judged by the call records
    /// of `chain`.
    pub fn of(chain: &[FinalBlock], events: &Trace, watch: &FrontrunWatch) -> FrontrunStats {
        let mut called: HashMap<TxId, bool> = HashMap::new();
        let mut watched: BTreeSet<TxId> = BTreeSet::new();
        for r in chain
            .iter()
            .flat_map(|b| b.records.iter().flat_map(|r| r.iter()))
        {
            if let ExecRecord::Called {
                tx,
                contract,
                method,
                result,
                ..
            } = r
            {
                called.insert(*tx, result.is_ok());
                if *contract == watch.contract && *method == watch.method {
                    watched.insert(*tx);
                }
            }
        }
        let copies: BTreeMap<TxId, TxId> = events
            .iter()
            .filter_map(|r| match &r.event {
                Event::Frontrun(f) => Some((f.copy, f.victim)),
                _ => None,
            })
            .collect();
        let copied: BTreeSet<TxId> = copies.values().copied().collect();
        let victims: BTreeSet<TxId> = watched
            .into_iter()
            .filter(|tx| !copies.contains_key(tx))
            .chain(copied.iter().copied())
            .collect();
        let mut s = FrontrunStats {
            victim_calls: victims.len() as u64,
            attempts: copies.len() as u64,
            missed: victims.difference(&copied).count() as u64,
            ..FrontrunStats::default()
        };
        for copy in copies.keys() {
            if let Some(ok) = called.get(copy) {
                s.included += 1;
                s.wins += u64::from(*ok);
            }
        }
        s.victim_wins = victims
            .iter()
            .filter(|v| called.get(v) == Some(&true))
            .count() as u64;
        if s.attempts > 0 {
            s.win_rate = s.wins as f64 / s.attempts as f64;
        }
        if s.victim_calls > 0 {
            s.taken_rate = s.wins as f64 / s.victim_calls as f64;
        }
        s
    }
}

/// `contracts.receipts`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReceiptStats {
    /// Made by successful executions.
    pub created: u64,
    /// Run (callbacks included).
    pub executed: u64,
    /// Of them, those that failed.
    pub failed: u64,
    /// Made but not run by the end of the chain.
    pub pending: u64,
}

/// `contracts.callbacks`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CallbackStats {
    /// Callbacks given the callee's `Ok` result.
    pub ok: u64,
    /// Callbacks given the callee's `Err`.
    pub err: u64,
}

/// `contracts.by_contract.<address>`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PerContract {
    /// Its name in the scenario (`[[calls]]`, the workload), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Call transactions and receipts it ran.
    pub executions: u64,
    /// Of them, those that failed.
    pub failed: u64,
    /// Gas they burnt.
    pub gas: u64,
}

impl ContractStats {
    /// The figures of `chain` (genesis first); `None` when no block of it did contract work
    /// and there are no views. `names` labels contracts by address; `views` are the results
    /// of the scenario's views, by name.
    pub fn of(
        chain: &[FinalBlock],
        names: &BTreeMap<Address, String>,
        views: &[(String, Result<Vec<u8>, String>)],
    ) -> Option<ContractStats> {
        if chain.iter().all(|b| b.records.is_none()) && views.is_empty() {
            return None;
        }
        let mut s = ContractStats {
            views: views
                .iter()
                .map(|(n, r)| (n.clone(), ViewValue::of(r)))
                .collect(),
            ..ContractStats::default()
        };
        let mut delays = Vec::new();
        for b in chain {
            for r in b.records.iter().flat_map(|r| r.iter()) {
                s.count(r, b.height, &mut delays, names);
            }
        }
        s.receipts.pending = s.receipts.created.saturating_sub(s.receipts.executed);
        s.receipt_delay_blocks = Percentiles::of(delays);
        Some(s)
    }

    fn count(
        &mut self,
        r: &ExecRecord,
        height: u64,
        delays: &mut Vec<f64>,
        names: &BTreeMap<Address, String>,
    ) {
        let (contract, gas, result) = match r {
            ExecRecord::Deployed {
                gas_burnt, result, ..
            } => {
                match result {
                    Ok(()) => self.deployed += 1,
                    Err(_) => self.deploys_failed += 1,
                }
                self.burn(*gas_burnt, result);
                return;
            }
            ExecRecord::Called {
                contract,
                gas_burnt,
                result,
                ..
            } => {
                self.calls += 1;
                self.calls_failed += u64::from(result.is_err());
                (contract, *gas_burnt, result)
            }
            ExecRecord::ReceiptCreated { .. } => {
                self.receipts.created += 1;
                return;
            }
            ExecRecord::ReceiptExecuted {
                receiver,
                created_height,
                callback,
                gas_burnt,
                result,
                ..
            } => {
                self.receipts.executed += 1;
                self.receipts.failed += u64::from(result.is_err());
                match callback {
                    Some(true) => self.callbacks.ok += 1,
                    Some(false) => self.callbacks.err += 1,
                    None => {}
                }
                delays.push(height.saturating_sub(*created_height) as f64);
                (receiver, *gas_burnt, result)
            }
            ExecRecord::Event { .. } | ExecRecord::Log { .. } => {
                self.events += 1;
                return;
            }
        };
        self.burn(gas, result);
        let c = self.by_contract.entry(contract.to_string()).or_default();
        c.name = names.get(contract).cloned();
        c.executions += 1;
        c.failed += u64::from(result.is_err());
        c.gas += gas;
    }

    fn burn(&mut self, gas: u64, result: &Result<(), ExecError>) {
        self.gas_used = self.gas_used.saturating_add(gas);
        if matches!(result, Err(ExecError::OutOfGas)) {
            self.out_of_gas += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;
    use crate::report::FrontrunEvent;

    fn block(height: u64, records: Vec<ExecRecord>) -> FinalBlock {
        FinalBlock {
            height,
            records: (!records.is_empty()).then(|| records.into()),
            ..FinalBlock::default()
        }
    }

    #[test]
    fn frontrun_copies_are_judged_by_the_final_chain() {
        let c = Address([7; 20]);
        let called = |tx: u8, method: &str, ok: bool| ExecRecord::Called {
            tx: Hash([tx; 32]),
            contract: c,
            method: method.into(),
            gas_burnt: 1,
            result: if ok {
                Ok(())
            } else {
                Err(ExecError::Failed("taken".into()))
            },
        };
        let copied = |victim: u8, copy: u8| {
            crate::report::testkit::rec(
                1,
                2,
                Event::Frontrun(Box::new(FrontrunEvent {
                    victim: Hash([victim; 32]),
                    copy: Hash([copy; 32]),
                    fee: 201,
                })),
            )
        };
        // Copy 11 won over victim 1; victim 2 won over copy 12; copy 13 is not on the chain
        // (victim 3 is, and won); copy 14 is traced twice (counted once), and neither it nor
        // victim 4 is on the chain; victim 5 was never copied (and won); 6 is another method.
        let chain = vec![
            block(
                1,
                vec![called(11, "register", true), called(1, "register", false)],
            ),
            block(
                2,
                vec![
                    called(2, "register", true),
                    called(12, "register", false),
                    called(3, "register", true),
                ],
            ),
            block(
                3,
                vec![called(5, "register", true), called(6, "owner_of", true)],
            ),
        ];
        let events = [
            copied(1, 11),
            copied(2, 12),
            copied(3, 13),
            copied(4, 14),
            copied(4, 14),
        ];
        let watch = FrontrunWatch {
            contract: c,
            method: "register".into(),
        };
        let s = FrontrunStats::of(&chain, &Trace::from(&events[..]), &watch);
        assert_eq!(
            s,
            FrontrunStats {
                victim_calls: 5,
                attempts: 4,
                missed: 1,
                included: 2,
                wins: 1,
                victim_wins: 3,
                win_rate: 0.25,
                taken_rate: 0.2,
            }
        );
        let none = FrontrunStats::of(&chain[2..], &Trace::default(), &watch);
        assert_eq!((none.victim_calls, none.missed, none.win_rate), (1, 1, 0.0));
    }

    #[test]
    fn counts_calls_receipts_callbacks_and_delays() {
        let c = Address([7; 20]);
        let call = ExecRecord::Called {
            tx: Hash([1; 32]),
            contract: c,
            method: "go".into(),
            gas_burnt: 100,
            result: Ok(()),
        };
        let made = |cb| ExecRecord::ReceiptCreated {
            id: Hash([2; 32]),
            origin: Hash([1; 32]),
            receiver: c,
            method: "x".into(),
            callback: cb,
        };
        let ran = |created, callback, result| ExecRecord::ReceiptExecuted {
            id: Hash([2; 32]),
            origin: Hash([1; 32]),
            receiver: c,
            method: "x".into(),
            created_height: created,
            callback,
            gas_burnt: 10,
            result,
        };
        let chain = vec![
            block(0, vec![]),
            block(1, vec![call, made(false), made(true)]),
            block(2, vec![]),
            block(3, vec![ran(1, None, Err(ExecError::OutOfGas))]),
            block(4, vec![ran(3, Some(false), Ok(()))]),
        ];
        let names = BTreeMap::from([(c, "token".to_string())]);
        let views = vec![
            ("total".to_string(), Ok(7u64.to_le_bytes().to_vec())),
            ("who".to_string(), Ok(vec![1, 2])),
            ("bad".to_string(), Err("no method `x`".to_string())),
        ];
        let s = ContractStats::of(&chain, &names, &views).unwrap();
        assert_eq!(s.views["total"].value, Some(7));
        assert_eq!(
            (s.views["who"].value, s.views["who"].hex.as_str()),
            (None, "0102")
        );
        assert_eq!(s.views["bad"].error.as_deref(), Some("no method `x`"));
        assert_eq!((s.calls, s.calls_failed), (1, 0));
        assert_eq!(
            (s.receipts.created, s.receipts.executed, s.receipts.failed),
            (2, 2, 1)
        );
        assert_eq!((s.callbacks.ok, s.callbacks.err), (0, 1));
        assert_eq!(s.out_of_gas, 1);
        assert_eq!(s.gas_used, 120);
        assert_eq!(s.receipt_delay_blocks.p50, Some(1.0));
        assert_eq!(s.receipt_delay_blocks.p90, Some(2.0));
        let per = &s.by_contract[&c.to_string()];
        assert_eq!((per.executions, per.failed, per.gas), (3, 1, 120));
        assert_eq!(per.name.as_deref(), Some("token"));
        assert!(ContractStats::of(&[block(1, vec![])], &names, &[]).is_none());
    }
}
