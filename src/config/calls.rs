//! `[[calls]]`: contract deploys and calls a scenario makes at given times (docs/contracts.md),
//! signed by the scenario's own users (accounts `user:0`, `user:1`, ... funded at genesis,
//! apart from the load generator's), and planned here into signed transactions.
//!
//! ```toml
//! [[calls]]
//! at = "5s"                 # cluster time it is submitted
//! deploy = "token"          # an example contract (contracts/), or a .wat/.wasm path
//! name = "tok"              # how later entries name it (default: the deploy's name)
//! args = ["u64:1000000"]    # its `init` arguments
//!
//! [[calls]]
//! at = "20s"
//! from = 1                  # user:1 signs (default user:0)
//! node = 3                  # submitted to node 3 (default 0)
//! contract = "tok"          # a name above, "workload", or a 40-hex-digit address
//! method = "transfer"
//! args = ["user:2", "u64:50"]
//! count = 3                 # submitted 3 times ...
//! every = "2s"              # ... 2 s apart
//! ```
//!
//! Arguments are typed strings, concatenated: `u8:`, `u32:`, `u64:` (little-endian),
//! `user:N`, `account:N` (a workload account), `contract:NAME` (20-byte addresses),
//! `addr:HEX`, `str:TEXT`, `hex:BYTES`; `seq:TEXT` is the text followed by the submission's
//! number in decimal (0 for an entry's first, then 1, ... up to `count` − 1: `seq:name-`
//! registers `name-0`, `name-1`, ...); `sha256:ARG|ARG|...` is the 32-byte SHA-256 of the
//! typed arguments between the bars, concatenated (a commitment:
//! `sha256:seq:name-|hex:SALT|user:0`).

use super::{invalid, Config, ConfigError};
use crate::contract::examples;
use crate::crypto::{Address, KeyPair};
use crate::tx::{Call, Deploy, Transaction};
use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Default gas of a scenario call.
pub const DEFAULT_CALL_GAS: u64 = 10_000_000;
/// Default fee of a scenario call.
pub const DEFAULT_CALL_FEE: u64 = 100;
/// Most submissions one entry may make.
pub const MAX_COUNT: u32 = 100_000;
/// Most scenario users.
pub const MAX_USERS: usize = 10_000;

fn default_gas() -> u64 {
    DEFAULT_CALL_GAS
}
fn default_fee() -> u64 {
    DEFAULT_CALL_FEE
}
fn one() -> u32 {
    1
}

/// One `[[calls]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallEntry {
    /// Cluster time of the (first) submission.
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// The node it is submitted to.
    #[serde(default)]
    pub node: NodeId,
    /// The scenario user that signs it.
    #[serde(default)]
    pub from: usize,
    /// Deploys this contract: an example's name or a `.wat`/`.wasm` path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
    /// A deploy's name for later entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Calls this contract: a name, `workload`, or an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// The method called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Arguments (of the call, or of a deploy's `init`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Value attached.
    #[serde(default)]
    pub value: u64,
    /// Gas attached.
    #[serde(default = "default_gas")]
    pub gas: u64,
    /// Fee paid.
    #[serde(default = "default_fee")]
    pub fee: u64,
    /// Submissions.
    #[serde(default = "one")]
    pub count: u32,
    /// Time between submissions.
    #[serde(
        default,
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub every: Option<Duration>,
}

/// A signed scenario transaction and when and where it goes.
#[derive(Clone, Debug)]
pub struct PlannedCall {
    /// Cluster time, ms.
    pub at_ms: u64,
    /// The node it is submitted to.
    pub node: NodeId,
    /// Its entry's index.
    pub entry: usize,
    /// The transaction.
    pub tx: Transaction,
}

impl Config {
    /// The key of scenario user `i` (`user:i` in `[[calls]]`).
    pub fn user_key(i: usize) -> KeyPair {
        KeyPair::from_seed(format!("chainlab/user/{i}").as_bytes())
    }

    /// Scenario users funded at genesis: one past the highest `from`, or 0 without calls.
    pub fn call_users(&self) -> usize {
        self.calls.iter().map(|c| c.from + 1).max().unwrap_or(0)
    }

    /// The scenario's calls as signed transactions in submission order, and the name of each
    /// contract they deploy by address. `load` reads a deploy path (the shell's I/O).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the entry: an unknown contract name or example, a path
    /// `load` cannot read, a module that does not compile, a bad argument.
    pub fn plan_calls(
        &self,
        file: &str,
        load: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    ) -> Result<(Vec<PlannedCall>, BTreeMap<Address, String>), ConfigError> {
        let mut order: Vec<usize> = (0..self.calls.len()).collect();
        order.sort_by_key(|i| (self.calls[*i].at, *i));
        let mut names: BTreeMap<String, Address> = BTreeMap::new();
        names.insert("workload".into(), self.workload_contract_address());
        let mut labels = BTreeMap::new();
        let mut nonces = vec![0u64; self.call_users()];
        let mut sends: Vec<(u64, usize, usize)> = Vec::new();
        for i in order {
            let c = &self.calls[i];
            for k in 0..c.count {
                let at = c.at + c.every.unwrap_or_default() * k;
                sends.push((at.as_millis() as u64, i, k as usize));
            }
        }
        sends.sort_unstable();
        let mut out = Vec::with_capacity(sends.len());
        let mut code_cache: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        for (at_ms, i, nth) in sends {
            let c = &self.calls[i];
            let key_name = format!("calls[{i}]");
            let bad = |what: String| ConfigError::Invalid {
                file: file.to_string(),
                key: key_name.clone(),
                reason: what,
            };
            let key = Config::user_key(c.from);
            let nonce = nonces[c.from];
            nonces[c.from] += 1;
            let args = encode_args(&c.args, self, &names, nth as u32).map_err(&bad)?;
            let chain_id = self.consensus.chain_id;
            let tx = if let Some(src) = &c.deploy {
                let wasm = match code_cache.get(&i) {
                    Some(w) => w.clone(),
                    None => {
                        let w = deploy_code(src, load).map_err(&bad)?;
                        code_cache.insert(i, w.clone());
                        w
                    }
                };
                let d = Deploy {
                    code: wasm,
                    init_args: args,
                    gas: c.gas,
                };
                let tx = Transaction::new_deploy(&key, chain_id, d, c.value, c.fee, nonce);
                let name = c.name.clone().unwrap_or_else(|| default_name(src));
                names.insert(name.clone(), tx.to);
                labels.insert(tx.to, name);
                tx
            } else {
                let target = c.contract.as_deref().unwrap_or_default();
                let to = resolve_contract(target, &names).map_err(&bad)?;
                let call = Call {
                    method: c.method.clone().unwrap_or_default(),
                    args,
                    gas: c.gas,
                };
                Transaction::new_call(&key, chain_id, to, call, c.value, c.fee, nonce)
            };
            out.push(PlannedCall {
                at_ms,
                node: c.node,
                entry: i,
                tx,
            });
        }
        if self.workload.contract_calls > 0.0 {
            labels.insert(
                self.workload_contract_address(),
                self.workload.contract.clone(),
            );
        }
        Ok((out, labels))
    }
}

fn default_name(src: &str) -> String {
    std::path::Path::new(src)
        .file_stem()
        .map_or_else(|| src.to_string(), |s| s.to_string_lossy().into_owned())
}

fn deploy_code(
    src: &str,
    load: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let bytes = if src.ends_with(".wat") || src.ends_with(".wasm") {
        load(src).map_err(|e| format!("deploy {src}: {e}"))?
    } else {
        return examples::wasm(src).map_err(|e| e.to_string());
    };
    crate::contract::vm::compile_source(&bytes).map_err(|e| format!("deploy {src}: {e}"))
}

pub(super) fn resolve_contract(
    target: &str,
    names: &BTreeMap<String, Address>,
) -> Result<Address, String> {
    if let Some(a) = names.get(target) {
        return Ok(*a);
    }
    parse_address(target).map_err(|_| {
        format!(
            "contract `{target}` is neither a contract deployed by an earlier entry, nor \
             `workload`, nor a 40-hex-digit address"
        )
    })
}

pub(super) fn parse_address(hex_text: &str) -> Result<Address, String> {
    let text = hex_text.strip_prefix("0x").unwrap_or(hex_text);
    let bytes = hex::decode(text).map_err(|e| e.to_string())?;
    let a: [u8; 20] = bytes
        .try_into()
        .map_err(|_| "an address is 20 bytes (40 hex digits)".to_string())?;
    Ok(Address(a))
}

/// Encodes typed arguments (see the module doc), concatenated, for an entry's submission
/// number `nth` (from 0).
///
/// # Errors
/// Which argument is bad and why.
pub fn encode_args(
    args: &[String],
    cfg: &Config,
    names: &BTreeMap<String, Address>,
    nth: u32,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for a in args {
        encode_arg(a, cfg, names, nth, &mut out)?;
    }
    Ok(out)
}

/// Appends typed argument `a` to `out`.
fn encode_arg(
    a: &str,
    cfg: &Config,
    names: &BTreeMap<String, Address>,
    nth: u32,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let (kind, v) = a
        .split_once(':')
        .ok_or_else(|| format!("argument `{a}` is not KIND:VALUE (u64:5, user:1, str:x, ...)"))?;
    let num = |bits: u32| -> Result<u64, String> {
        let n: u64 = v
            .parse()
            .map_err(|_| format!("argument `{a}`: `{v}` is not a number"))?;
        if bits < 64 && n >> bits != 0 {
            return Err(format!("argument `{a}`: {n} does not fit {bits} bits"));
        }
        Ok(n)
    };
    let index = || -> Result<usize, String> {
        v.parse()
            .map_err(|_| format!("argument `{a}`: `{v}` is not an index"))
    };
    match kind {
        "u8" => out.push(num(8)? as u8),
        "u32" => out.extend_from_slice(&(num(32)? as u32).to_le_bytes()),
        "u64" => out.extend_from_slice(&num(64)?.to_le_bytes()),
        "user" => {
            let i = index()?;
            if i >= cfg.call_users() {
                return Err(format!(
                    "argument `{a}`: user {i} signs no entry, so it has no funded account \
                         (users are 0..{})",
                    cfg.call_users()
                ));
            }
            out.extend_from_slice(&Config::user_key(i).address().0);
        }
        "account" => {
            let i = index()?;
            if i >= cfg.workload.accounts {
                return Err(format!(
                    "argument `{a}`: there are {} workload accounts",
                    cfg.workload.accounts
                ));
            }
            out.extend_from_slice(&Config::account_key(i).address().0);
        }
        "contract" => out.extend_from_slice(&resolve_contract(v, names)?.0),
        "addr" => out.extend_from_slice(
            &parse_address(v)
                .map_err(|e| format!("argument `{a}`: {e}"))?
                .0,
        ),
        "str" => out.extend_from_slice(v.as_bytes()),
        "seq" => {
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(nth.to_string().as_bytes());
        }
        "hex" => out.extend(hex::decode(v).map_err(|e| format!("argument `{a}`: {e}"))?),
        "sha256" => {
            let mut inner = Vec::new();
            for part in v.split('|') {
                encode_arg(part, cfg, names, nth, &mut inner)
                    .map_err(|e| format!("argument `{a}`: {e}"))?;
            }
            out.extend_from_slice(&crate::hash::Hash::sha256(&inner).0);
        }
        _ => {
            return Err(format!(
                "argument `{a}`: unknown kind `{kind}` (u8, u32, u64, user, account, \
                     contract, addr, str, seq, hex, sha256)"
            ))
        }
    }
    Ok(())
}

/// Checks the entries' shape (what needs no file): one of `deploy` and `contract`, a method
/// for a call, the node, the count and spacing, the users.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the entry's key.
pub(crate) fn validate(calls: &[CallEntry], file: &str, nodes: usize) -> Result<(), ConfigError> {
    for (i, c) in calls.iter().enumerate() {
        let key = |k: &str| format!("calls[{i}].{k}");
        match (&c.deploy, &c.contract) {
            (Some(_), Some(_)) => {
                return invalid(
                    file,
                    &key("deploy"),
                    "an entry deploys or calls, not both".into(),
                )
            }
            (None, None) => {
                return invalid(
                    file,
                    &key("contract"),
                    "an entry needs `deploy` (a contract to deploy) or `contract` and `method` \
                     (a call)"
                        .into(),
                )
            }
            (None, Some(_)) if c.method.as_deref().is_none_or(str::is_empty) => {
                return invalid(file, &key("method"), "a call needs a method".into())
            }
            (Some(_), _) if c.method.is_some() => {
                return invalid(
                    file,
                    &key("method"),
                    "a deploy runs `init` (when the module exports it); `method` is for calls"
                        .into(),
                )
            }
            _ => {}
        }
        if c.node >= nodes {
            return invalid(
                file,
                &key("node"),
                format!("node {} does not exist ({nodes} nodes)", c.node),
            );
        }
        if c.from >= MAX_USERS {
            return invalid(file, &key("from"), format!("users are 0..{MAX_USERS}"));
        }
        if c.count == 0 || c.count > MAX_COUNT {
            return invalid(file, &key("count"), format!("must be in 1..={MAX_COUNT}"));
        }
        if c.count > 1 && c.every.is_none_or(|d| d.is_zero()) {
            return invalid(
                file,
                &key("every"),
                "an entry submitted more than once needs a positive `every`".into(),
            );
        }
        if c.deploy.is_some() && c.count > 1 {
            return invalid(file, &key("count"), "a deploy is submitted once".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::contract_address;

    fn cfg(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "t.toml", &[])
    }

    fn no_files(p: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {p}"))
    }

    #[test]
    fn a_deploy_then_calls_by_name_in_time_order_with_nonces() {
        let c = cfg(r#"
            [[calls]]
            at = "10s"
            contract = "tok"
            method = "transfer"
            args = ["user:1", "u64:5"]
            count = 2
            every = "1s"
            [[calls]]
            at = "1s"
            deploy = "token"
            name = "tok"
            args = ["u64:1000"]
            [[calls]]
            at = "2s"
            from = 1
            contract = "tok"
            method = "balance_of"
            args = ["user:0"]
        "#)
        .unwrap();
        assert_eq!(c.call_users(), 2);
        let (plan, labels) = c.plan_calls("t.toml", &no_files).unwrap();
        let at: Vec<u64> = plan.iter().map(|p| p.at_ms).collect();
        assert_eq!(at, vec![1000, 2000, 10_000, 11_000]);
        let deploy = &plan[0].tx;
        assert_eq!(
            deploy.to,
            contract_address(&Config::user_key(0).address(), 0)
        );
        assert_eq!(labels.get(&deploy.to).map(String::as_str), Some("tok"));
        assert_eq!(
            plan[2].tx.to, deploy.to,
            "calls go to the deployed contract"
        );
        assert_eq!(plan[2].tx.nonce, 1);
        assert_eq!(plan[3].tx.nonce, 2);
        assert_eq!(plan[1].tx.nonce, 0, "user 1's first");
        match &plan[2].tx.payload {
            crate::tx::Payload::Call(call) => {
                let mut want = Config::user_key(1).address().0.to_vec();
                want.extend_from_slice(&5u64.to_le_bytes());
                assert_eq!(call.args, want);
            }
            p => panic!("not a call: {p:?}"),
        }
    }

    #[test]
    fn seq_numbers_each_submission_and_sha256_hashes_its_arguments() {
        let c = cfg(r#"
            [[calls]]
            at = "1s"
            deploy = "registry_commit"
            name = "reg"
            [[calls]]
            at = "2s"
            contract = "reg"
            method = "commit"
            args = ["sha256:seq:name-|hex:0102|user:0"]
            count = 2
            every = "1s"
            [[calls]]
            at = "2s"
            contract = "reg"
            method = "reveal"
            args = ["seq:name-", "hex:0102"]
            count = 2
            every = "1s"
        "#)
        .unwrap();
        let (plan, _) = c.plan_calls("t.toml", &no_files).unwrap();
        let args = |p: &PlannedCall| match &p.tx.payload {
            crate::tx::Payload::Call(call) => (call.method.clone(), call.args.clone()),
            p => panic!("not a call: {p:?}"),
        };
        let user = Config::user_key(0).address();
        let calls: Vec<(String, Vec<u8>)> = plan[1..].iter().map(args).collect();
        for (nth, pair) in calls.chunks(2).enumerate() {
            let name = format!("name-{nth}");
            let mut reveal = name.as_bytes().to_vec();
            reveal.extend_from_slice(&[1, 2]);
            let mut preimage = reveal.clone();
            preimage.extend_from_slice(&user.0);
            let commit = crate::hash::Hash::sha256(&preimage).0.to_vec();
            assert_eq!(pair[0], ("commit".to_string(), commit), "{nth}");
            assert_eq!(pair[1], ("reveal".to_string(), reveal), "{nth}");
        }
        let bad = cfg(r#"
            [[calls]]
            at = "1s"
            contract = "workload"
            method = "m"
            args = ["sha256:str:a|zz:1"]
        "#)
        .unwrap();
        let e = bad.plan_calls("t.toml", &no_files).unwrap_err().to_string();
        assert!(
            e.contains("sha256:str:a|zz:1") && e.contains("unknown kind"),
            "{e}"
        );
    }

    #[test]
    fn bad_entries_are_refused_naming_the_key() {
        let cases = [
            (
                "[[calls]]\nat = \"1s\"\ndeploy = \"token\"\ncontract = \"x\"",
                "calls[0].deploy",
            ),
            ("[[calls]]\nat = \"1s\"", "calls[0].contract"),
            (
                "[[calls]]\nat = \"1s\"\ncontract = \"x\"",
                "calls[0].method",
            ),
            (
                "[[calls]]\nat = \"1s\"\ndeploy = \"token\"\nnode = 99",
                "calls[0].node",
            ),
            (
                "[[calls]]\nat = \"1s\"\ncontract = \"x\"\nmethod = \"m\"\ncount = 2",
                "calls[0].every",
            ),
        ];
        for (text, key) in cases {
            match cfg(text) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn unresolvable_names_and_bad_arguments_are_refused_when_planned() {
        for (text, needle) in [
            ("contract = \"nope\"\nmethod = \"m\"", "neither"),
            ("deploy = \"nope\"", "no example contract named `nope`"),
            ("deploy = \"x.wat\"", "no file x.wat"),
            (
                "contract = \"workload\"\nmethod = \"m\"\nargs = [\"u8:300\"]",
                "does not fit",
            ),
            (
                "contract = \"workload\"\nmethod = \"m\"\nargs = [\"user:3\"]",
                "signs no entry",
            ),
            (
                "contract = \"workload\"\nmethod = \"m\"\nargs = [\"zz:1\"]",
                "unknown kind",
            ),
        ] {
            let c = cfg(&format!("[[calls]]\nat = \"1s\"\n{text}")).unwrap();
            let e = c.plan_calls("t.toml", &no_files).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("calls[0]"), "{text}: {e}");
        }
    }
}
