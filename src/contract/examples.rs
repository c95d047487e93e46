//! The example contracts of `contracts/` (each file opens with what it shows), built into the
//! binary so a scenario can name them (`deploy = "token"`), and what the load generator calls
//! on the ones it can drive (`[workload] contract`).

use super::vm;
use super::DeployError;
use crate::crypto::Address;

/// Every example: its name and WAT source.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("counter", include_str!("../../contracts/counter.wat")),
    ("token", include_str!("../../contracts/token.wat")),
    ("escrow", include_str!("../../contracts/escrow.wat")),
    ("exchange", include_str!("../../contracts/exchange.wat")),
    (
        "vault_naive",
        include_str!("../../contracts/vault_naive.wat"),
    ),
    (
        "vault_fixed",
        include_str!("../../contracts/vault_fixed.wat"),
    ),
    ("registry", include_str!("../../contracts/registry.wat")),
    (
        "registry_commit",
        include_str!("../../contracts/registry_commit.wat"),
    ),
];

/// The examples the load generator can call.
pub const WORKLOAD_CONTRACTS: &[&str] = &["counter", "token"];

/// Tokens each workload account holds at genesis when the workload calls `token`.
pub const WORKLOAD_TOKENS: u64 = 1_000_000_000;

/// The WAT source of example `name`.
pub fn source(name: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The wasm bytes of example `name`.
///
/// # Errors
/// [`DeployError::Invalid`] for an unknown name (or a source that does not compile).
pub fn wasm(name: &str) -> Result<Vec<u8>, DeployError> {
    let src = source(name).ok_or_else(|| {
        let names: Vec<&str> = EXAMPLES.iter().map(|(n, _)| *n).collect();
        DeployError::Invalid(format!(
            "no example contract named `{name}` (there are: {})",
            names.join(", ")
        ))
    })?;
    vm::compile_source(src.as_bytes())
}

/// The method and arguments of one load-generator call of example `name`, for a transfer of
/// `amount` to `to` (`token`: `transfer(to, amount)`; `counter`: `increment()`).
pub fn workload_call(name: &str, to: &Address, amount: u64) -> Option<(&'static str, Vec<u8>)> {
    match name {
        "token" => {
            let mut args = to.0.to_vec();
            args.extend_from_slice(&amount.to_le_bytes());
            Some(("transfer", args))
        }
        "counter" => Some(("increment", Vec::new())),
        _ => None,
    }
}

/// The storage example `name` starts with when deployed at genesis for the load generator
/// over `holders` (`token`: [`WORKLOAD_TOKENS`] each; `counter`: nothing).
pub fn workload_genesis_storage(name: &str, holders: &[Address]) -> Vec<(Vec<u8>, Vec<u8>)> {
    match name {
        "token" => holders
            .iter()
            .map(|h| (token_balance_key(h), WORKLOAD_TOKENS.to_le_bytes().to_vec()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The storage key of `holder`'s balance in `token`: "b" then the address.
pub fn token_balance_key(holder: &Address) -> Vec<u8> {
    let mut k = vec![b'b'];
    k.extend_from_slice(&holder.0);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ContractParams;

    #[test]
    fn every_example_is_deployable() {
        for (name, _) in EXAMPLES {
            let code = wasm(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            vm::check_module(&code, &ContractParams::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(wasm("nope").is_err());
    }
}
