//! What the commands share: `--set` overrides, loading a config (a file or the embedded default),
//! adding `--fault`/`--faults`, and the error that stands for bad input.

use chainlab::config::{Config, FaultFile};
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// The embedded default configuration (`config/default.toml`).
const DEFAULT_CONFIG: &str = include_str!("../../../config/default.toml");

/// `--set KEY=VALUE`, flattened into every command that loads a config.
#[derive(clap::Args, Clone, Default)]
pub struct ConfigArgs {
    /// Override a config key by its dotted path, e.g. --set consensus.block_interval=20s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Bad input (exit code 2), carrying the message to print.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Bad input whose message is `e`'s display (its sources are not appended).
pub fn bad(e: impl Display) -> BadInput {
    BadInput(e.to_string())
}

/// The config at `path` (the embedded default when `None`), with `overrides` applied.
///
/// # Errors
/// The file cannot be read, or the config is invalid.
pub fn load_config(path: Option<&Path>, overrides: &[String]) -> Result<Config, BadInput> {
    let (text, label) = match path {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| BadInput(format!("cannot read config {}: {e}", p.display())))?,
            p.display().to_string(),
        ),
        None => (
            DEFAULT_CONFIG.to_string(),
            "<embedded config/default.toml>".to_string(),
        ),
    };
    Config::parse(&text, &label, overrides).map_err(bad)
}

/// Adds the `[[adversary]]` entries of `--adversary` arguments to `c`.
///
/// # Errors
/// An argument that does not parse, or an entry the config refuses.
pub fn add_adversaries(c: &mut Config, args: &[String]) -> Result<(), BadInput> {
    let entries = args
        .iter()
        .map(|a| chainlab::config::parse_adversary_arg(a).map_err(BadInput))
        .collect::<Result<Vec<_>, _>>()?;
    if !entries.is_empty() {
        c.add_adversaries(entries, "--adversary").map_err(bad)?;
    }
    Ok(())
}

/// Adds the faults of `--fault` arguments, then those of each `--faults` file, to `c`.
///
/// # Errors
/// A fault argument that does not parse, an unreadable or invalid file, or a fault the config
/// refuses.
pub fn add_faults(c: &mut Config, args: &[String], files: &[PathBuf]) -> Result<(), BadInput> {
    let from_args = args
        .iter()
        .map(|a| chainlab::sim::fault::parse_fault_arg(a).map_err(BadInput))
        .collect::<Result<Vec<_>, _>>()?;
    if !from_args.is_empty() {
        c.add_faults(from_args, "--fault").map_err(bad)?;
    }
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| BadInput(format!("cannot read faults file {}: {e}", f.display())))?;
        let file: FaultFile = toml::from_str(&text)
            .map_err(|e| BadInput(format!("{}: {}", f.display(), e.to_string().trim_end())))?;
        c.add_faults(file.faults, &f.display().to_string())
            .map_err(bad)?;
    }
    Ok(())
}

/// `s` as a TOML string literal, for an override's value.
pub fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A `--duration` argument, e.g. `30s`.
///
/// # Errors
/// Not a duration humantime understands.
pub fn parse_duration(d: &str) -> Result<std::time::Duration, BadInput> {
    humantime::parse_duration(d).map_err(|e| BadInput(format!("--duration {d:?}: {e}")))
}
