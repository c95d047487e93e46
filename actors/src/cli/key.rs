//! `chainlab key`: print a node's public key (for `tcp.peers_allowed`), creating its key file
//! first when there is none.

use super::args::{bad, BadInput};
use super::Outcome;
use chainlab_actors::keyfile::{load_or_create, KEY_FILE};
use std::path::PathBuf;

/// The arguments of `key`.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
    /// The node's data directory (its key is DIR/node.key, as `chainlab node --data-dir DIR`
    /// uses).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A key file (as `chainlab node --key FILE` reads).
    #[arg(long)]
    key: Option<PathBuf>,
}

/// Prints the public key in hex on stdout (and on stderr whether the file was created).
///
/// # Errors
/// The key file is damaged or cannot be read or created.
pub fn key(a: KeyArgs) -> anyhow::Result<Outcome> {
    let path = match (a.data_dir, a.key) {
        (Some(dir), _) => dir.join(KEY_FILE),
        (None, Some(f)) => f,
        (None, None) => return Err(BadInput("give --data-dir or --key".into()).into()),
    };
    let (k, created) = load_or_create(&path).map_err(bad)?;
    if created {
        eprintln!("created {}", path.display());
    }
    println!("{}", k.public);
    Ok(Outcome::Success)
}
