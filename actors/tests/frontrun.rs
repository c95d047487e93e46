//! Front-running on a running cluster (virtual clock): the scenarios
//! `config/contracts-frontrun.toml` and `config/contracts-commit-reveal.toml` with fast links,
//! their reports' `contracts.frontrun` checked against the registries' events on the final
//! chain (docs/contracts-frontrunning.md).

mod support;

use chainlab::chain::exec::ExecRecord;
use chainlab::config::Config;
use chainlab::report::{Event, FrontrunStats};
use chainlab::Address;
use chainlab_actors::cluster::RunOutput;
use std::collections::BTreeMap;
use std::path::Path;
use support::run::{assert_no_violations, run_ok};

/// `config/NAME.toml` with `overrides`.
fn scenario(name: &str, overrides: &[&str]) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../config/{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::parse(&text, &path.display().to_string(), &overrides).unwrap()
}

/// Each name's owner by the registry events (name ++ owner) of the final chain.
fn owners(out: &RunOutput) -> BTreeMap<Vec<u8>, Address> {
    let mut owners = BTreeMap::new();
    for r in out
        .final_chain
        .iter()
        .flat_map(|b| b.records.iter().flat_map(|r| r.iter()))
    {
        if let ExecRecord::Event { data, .. } = r {
            let (name, owner) = data.split_at(data.len() - 20);
            let owner = Address(owner.try_into().unwrap());
            assert!(
                owners.insert(name.to_vec(), owner).is_none(),
                "a name registered twice"
            );
        }
    }
    owners
}

fn frontrun(out: &RunOutput) -> FrontrunStats {
    let c = out.report.contracts.as_ref().expect("contract work");
    c.frontrun.clone().expect("a [frontrun] report")
}

/// `frontrun` trace events: all at the attacker's node.
fn copies_traced_at(out: &RunOutput, node: usize) -> usize {
    let copies: Vec<usize> = out
        .events
        .iter()
        .filter(|r| matches!(r.event, Event::Frontrun(_)))
        .map(|r| r.node)
        .collect();
    assert!(copies.iter().all(|n| *n == node), "{copies:?}");
    copies.len()
}

#[test]
fn with_fast_links_the_attacker_takes_names_from_the_first_come_registry() {
    let cfg = scenario("contracts-frontrun", &["network.latency.ms=10"]);
    let attacker = Config::node_key(3).address();
    let victim = Config::user_key(0).address();
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let f = frontrun(&out);
    eprintln!("{f:?}");
    assert_eq!(f.victim_calls, 110);
    assert_eq!(f.attempts as usize, copies_traced_at(&out, 3));
    assert_eq!(f.attempts + f.missed, f.victim_calls);
    // exp(-12 x 0.23 / 30) = 0.91 of the names expected (docs/contracts-frontrunning.md).
    assert!(f.wins >= 80, "{f:?}");
    assert!(f.victim_wins >= 1, "{f:?}");
    // Every name went to one of the two, and the report's wins are the attacker's names.
    let owners = owners(&out);
    assert_eq!(owners.len(), 110);
    let taken = owners.values().filter(|o| **o == attacker).count() as u64;
    assert_eq!(taken, f.wins);
    assert_eq!(owners.len() as u64 - taken, f.victim_wins);
    assert!(owners.values().all(|o| *o == attacker || *o == victim));
    assert!(owners.contains_key(&b"name-0"[..]) && owners.contains_key(&b"name-109"[..]));
}

#[test]
fn with_fast_links_the_attacker_takes_nothing_from_commit_reveal() {
    let cfg = scenario("contracts-commit-reveal", &["network.latency.ms=10"]);
    let victim = Config::user_key(0).address();
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let f = frontrun(&out);
    eprintln!("{f:?}");
    assert_eq!(f.victim_calls, 106);
    assert!(f.attempts >= 90, "it copied the reveals: {f:?}");
    assert_eq!(f.attempts as usize, copies_traced_at(&out, 3));
    assert!(f.included >= 90, "the copies ran (and failed): {f:?}");
    assert_eq!((f.wins, f.win_rate), (0, 0.0));
    let owners = owners(&out);
    assert_eq!(owners.len() as u64, f.victim_wins);
    assert!(f.victim_wins >= 95, "{f:?}");
    assert!(owners.values().all(|o| *o == victim));
}
