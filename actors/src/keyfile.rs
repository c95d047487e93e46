//! A `chainlab node`'s secret node key on disk: `<data_dir>/node.key` (created on first start)
//! or a file named by `--key`. The file holds one line of 64 hex digits, a 32-byte secret seed
//! from the operating system's random source; the key pair is `KeyPair::from_seed(seed)`. It is
//! created with mode 0600 (unix) and never overwritten: a damaged file is an error naming it,
//! since a silently replaced key would be a new identity that permissioned peers refuse.

use chainlab::KeyPair;
use rand::RngCore;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The key file's name in a data directory.
pub const KEY_FILE: &str = "node.key";

/// Why the node key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the node key file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file does not hold a key.
    #[error(
        "the node key file {path} is damaged: {reason}; it must hold 64 hex digits \
         (restore it from a backup; moving it away makes a new key, a new identity)"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be created.
    #[error("cannot create the node key file {path}: {reason}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Reads the key in `path`, which must exist.
///
/// # Errors
/// [`KeyFileError::Read`] or [`KeyFileError::Damaged`], naming the file.
pub fn load(path: &Path) -> Result<KeyPair, KeyFileError> {
    let bytes = std::fs::read(path).map_err(|e| KeyFileError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse(&bytes).map_err(|reason| KeyFileError::Damaged {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads the key in `path`, or creates the file with a fresh key when there is none. Returns
/// the key and whether it was created.
///
/// # Errors
/// As [`load`], or [`KeyFileError::Create`].
pub fn load_or_create(path: &Path) -> Result<(KeyPair, bool), KeyFileError> {
    if path.exists() {
        return load(path).map(|k| (k, false));
    }
    let create = |e: std::io::Error| KeyFileError::Create {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    let seed = fresh_seed();
    let mut opts = std::fs::OpenOptions::new();
    // `create_new`: never overwrite (a file that appeared meanwhile is an error, not replaced).
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(create)?;
    f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(create)?;
    Ok((KeyPair::from_seed(&seed), true))
}

/// A key that lives as long as the process (for a node with neither data dir nor key file).
pub fn ephemeral() -> KeyPair {
    KeyPair::from_seed(&fresh_seed())
}

/// 32 bytes from the operating system (key material, not node logic: the virtual clock's
/// determinism does not apply; in-process clusters use derived keys instead).
fn fresh_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    seed
}

fn parse(bytes: &[u8]) -> Result<KeyPair, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text".to_string())?;
    let text = text.trim();
    if text.len() != 64 {
        return Err(format!("it holds {} characters", text.len()));
    }
    let seed = hex::decode(text).map_err(|e| format!("not hex: {e}"))?;
    Ok(KeyPair::from_seed(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE);
        let (k1, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (k2, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1.public, k2.public, "the same key after a restart");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_ne!(ephemeral().public, k1.public);
        for bad in [&b"xyz"[..], &[0xff; 64][..], &[b'g'; 64][..], b""] {
            std::fs::write(&path, bad).unwrap();
            let e = load_or_create(&path).unwrap_err().to_string();
            assert!(e.contains("is damaged") && e.contains(KEY_FILE), "{e}");
        }
        let missing = dir.path().join("none.key");
        let e = load(&missing).unwrap_err().to_string();
        assert!(e.contains("cannot read") && e.contains("none.key"), "{e}");
    }
}
