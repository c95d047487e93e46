//! The contract scenarios (`config/contracts-*.toml`) show what their comments claim: each is
//! run in-process on the virtual clock, its `[expect]` must hold, and the execution records
//! of the final chain are read for what the report's counters cannot say: which call each
//! receipt came from, which failed and why, which events were emitted.

mod support;

use chainlab::chain::exec::ExecRecord;
use chainlab::config::Config;
use chainlab::contract::ExecError;
use chainlab::hash::TxId;
use chainlab::report::PerContract;
use chainlab_actors::cluster::RunOutput;
use std::path::Path;
use support::run::{assert_no_violations, run_ok};

/// Runs `config/NAME.toml`; asserts no violation and every expectation met.
fn scenario(name: &str) -> RunOutput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../config/{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg = Config::parse(&text, &path.display().to_string(), &[]).unwrap();
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let unmet: Vec<String> = out
        .report
        .expectations
        .iter()
        .filter(|e| !e.pass)
        .map(|e| e.failure_line())
        .collect();
    assert!(
        !out.report.expectations.is_empty() && unmet.is_empty(),
        "{unmet:?}"
    );
    out
}

/// The final chain's execution records, with their heights, in order.
fn records(out: &RunOutput) -> Vec<(u64, ExecRecord)> {
    out.final_chain
        .iter()
        .flat_map(|b| {
            b.records
                .iter()
                .flat_map(|r| r.iter())
                .map(move |r| (b.height, r.clone()))
        })
        .collect()
}

/// The address (hex) and figures of the contract named `name` in the report.
fn contract(out: &RunOutput, name: &str) -> (String, PerContract) {
    let stats = out.report.contracts.as_ref().expect("contract work");
    let (addr, c) = stats
        .by_contract
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no contract named {name}"));
    (addr.clone(), c.clone())
}

/// `(height, tx, result)` of each call of `method` on `contract`, in chain order.
fn calls(
    recs: &[(u64, ExecRecord)],
    contract: &str,
    method: &str,
) -> Vec<(u64, TxId, Result<(), ExecError>)> {
    recs.iter()
        .filter_map(|(h, r)| match r {
            ExecRecord::Called {
                tx,
                contract: c,
                method: m,
                result,
                ..
            } if c.to_string() == contract && m == method => Some((*h, *tx, result.clone())),
            _ => None,
        })
        .collect()
}

/// `(height, origin, callback, result)` of each receipt of `method` run on `contract`.
type Ran = (u64, TxId, Option<bool>, Result<(), ExecError>);
fn receipts(recs: &[(u64, ExecRecord)], contract: &str, method: &str) -> Vec<Ran> {
    recs.iter()
        .filter_map(|(h, r)| match r {
            ExecRecord::ReceiptExecuted {
                origin,
                receiver,
                method: m,
                callback,
                result,
                ..
            } if receiver.to_string() == contract && m == method => {
                Some((*h, *origin, *callback, result.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The events `contract` emitted, as their ASCII tags (the bytes before `fields` bytes).
fn tags(recs: &[(u64, ExecRecord)], contract: &str, fields: usize) -> Vec<String> {
    recs.iter()
        .filter_map(|(_, r)| match r {
            ExecRecord::Event { contract: c, data } if c.to_string() == contract => {
                Some(String::from_utf8_lossy(&data[..data.len() - fields]).into_owned())
            }
            _ => None,
        })
        .collect()
}

fn failed(msg: &str) -> Result<(), ExecError> {
    Err(ExecError::Failed(msg.into()))
}

#[test]
fn escrow_releases_on_confirmation_and_refunds_in_a_callback_after_the_deadline() {
    let out = scenario("contracts-escrow");
    let recs = records(&out);
    let (escrow, figures) = contract(&out, "escrow");
    assert_eq!((figures.executions, figures.failed), (7, 1));
    let refunds = calls(&recs, &escrow, "refund");
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0].2, failed("the deadline has not passed"));
    assert_eq!(refunds[1].2, Ok(()));
    let (asked, refund_tx) = (refunds[1].0, refunds[1].1);
    let payout = receipts(&recs, &escrow, "payout");
    let callback = receipts(&recs, &escrow, "on_refunded");
    assert_eq!(payout, vec![(asked + 1, refund_tx, None, Ok(()))]);
    assert_eq!(callback, vec![(asked + 2, refund_tx, Some(true), Ok(()))]);
    let confirm = calls(&recs, &escrow, "confirm");
    assert_eq!(confirm.len(), 1);
    assert_eq!(confirm[0].2, Ok(()));
    assert_eq!(
        tags(&recs, &escrow, 56),
        ["opened", "opened", "released", "refunding", "refunded"]
    );
}

#[test]
fn exchange_books_sales_and_refunds_the_buy_the_token_refused() {
    let out = scenario("contracts-exchange");
    let recs = records(&out);
    let (token, _) = contract(&out, "token");
    let (exchange, figures) = contract(&out, "exchange");
    assert_eq!((figures.executions, figures.failed), (6, 0));
    let buys = calls(&recs, &exchange, "buy");
    assert_eq!(buys.len(), 3);
    assert!(buys.iter().all(|b| b.2.is_ok()));
    let origins: Vec<TxId> = buys.iter().map(|b| b.1).collect();
    let transfers = receipts(&recs, &token, "transfer");
    let results: Vec<(TxId, Result<(), ExecError>)> =
        transfers.iter().map(|t| (t.1, t.3.clone())).collect();
    assert_eq!(
        results,
        vec![
            (origins[0], Ok(())),
            (origins[1], failed("insufficient balance")),
            (origins[2], Ok(()))
        ],
        "the second buy (600 of a stock of 400) is refused by the token"
    );
    let given: Vec<(TxId, Option<bool>)> = receipts(&recs, &exchange, "on_bought")
        .iter()
        .map(|c| (c.1, c.2))
        .collect();
    assert_eq!(
        given,
        vec![
            (origins[0], Some(true)),
            (origins[1], Some(false)),
            (origins[2], Some(true))
        ]
    );
    let logs: Vec<&str> = recs
        .iter()
        .filter_map(|(_, r)| match r {
            ExecRecord::Log { contract, line } if contract.to_string() == exchange => {
                Some(line.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(logs, ["failed: insufficient balance"]);
    assert_eq!(
        tags(&recs, &exchange, 36),
        ["ordered", "sold", "ordered", "refunded", "ordered", "sold"]
    );
}

#[test]
fn the_naive_vault_pays_a_withdrawal_twice_and_the_fixed_one_does_not() {
    let out = scenario("contracts-vault");
    let recs = records(&out);
    let (token, _) = contract(&out, "token");
    let transfers = receipts(&recs, &token, "transfer");
    // The token transfers each vault's withdrawals made, by origin.
    let paid_for = |vault: &str| -> Vec<Result<(), ExecError>> {
        calls(&recs, vault, "withdraw")
            .iter()
            .filter_map(|w| transfers.iter().find(|t| t.1 == w.1).map(|t| t.3.clone()))
            .collect()
    };

    let (naive, figures) = contract(&out, "naive");
    assert_eq!((figures.executions, figures.failed), (8, 1));
    let withdrawals = calls(&recs, &naive, "withdraw");
    assert_eq!(
        withdrawals.iter().map(|w| w.2.clone()).collect::<Vec<_>>(),
        [Ok(()), Ok(()), Ok(())],
        "A's two and B's one all pass the check"
    );
    assert!(
        withdrawals[1].0 - withdrawals[0].0 <= 1,
        "A's second withdrawal came before the first's callback: {withdrawals:?}"
    );
    assert_eq!(
        paid_for(&naive),
        [Ok(()), Ok(()), failed("insufficient balance")],
        "A is paid 100 twice on books of 100; B's 100 is gone"
    );
    let callbacks: Vec<(Option<bool>, Result<(), ExecError>)> =
        receipts(&recs, &naive, "on_withdrawn")
            .into_iter()
            .map(|c| (c.2, c.3))
            .collect();
    assert_eq!(
        callbacks,
        [
            (Some(true), Ok(())),
            (Some(true), failed("books underflow")),
            (Some(false), Ok(()))
        ]
    );

    let (fixed, figures) = contract(&out, "fixed");
    assert_eq!((figures.executions, figures.failed), (7, 1));
    let withdrawals = calls(&recs, &fixed, "withdraw");
    assert_eq!(
        withdrawals.iter().map(|w| w.2.clone()).collect::<Vec<_>>(),
        [Ok(()), failed("insufficient books"), Ok(())],
        "A's second withdrawal is refused"
    );
    assert_eq!(
        paid_for(&fixed),
        [Ok(()), Ok(())],
        "A is paid its 100 and B its 100"
    );
    assert_eq!(
        tags(&recs, &fixed, 28),
        ["deposit", "deposit", "withdraw", "paid", "withdraw", "paid"]
    );
}
