//! `tcp.peers_allowed`: which public keys may connect over TCP ([`PeersAllowed`]), with its
//! checks and the policy it yields ([`AllowedPeers`]).

use crate::crypto::PublicKey;
use crate::net::identity::{AllowedPeers, FIRST_UNLISTED_HANDLE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `tcp.peers_allowed`: `"any"` (an open network) or a list of public keys (a permissioned
/// network). The default, an empty list, admits only an in-process cluster's own nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PeersAllowed {
    /// `"any"`; any other word is refused by the check.
    Word(String),
    /// The allowed keys.
    List(Vec<AllowedKey>),
}

impl Default for PeersAllowed {
    fn default() -> Self {
        PeersAllowed::List(Vec::new())
    }
}

/// One entry of the list: a key in hex, or `{ key = "...", id = N }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AllowedKey {
    /// 66 hex digits.
    Key(String),
    /// A key with the node id it must claim.
    Entry(KeyEntry),
}

/// `{ key = "...", id = N }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// 66 hex digits (a compressed secp256k1 public key).
    pub key: String,
    /// The node id this key must claim in its hello (and is known by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

impl PeersAllowed {
    /// The open network.
    pub fn any() -> PeersAllowed {
        PeersAllowed::Word("any".into())
    }

    /// The policy, checked: `Err((key, reason))` names the bad entry (`tcp.peers_allowed[i]`).
    ///
    /// # Errors
    /// A word other than `"any"`, a malformed key, an id out of range, a key or id listed
    /// twice.
    pub fn policy(&self) -> Result<AllowedPeers, (String, String)> {
        let list = match self {
            PeersAllowed::Word(w) if w == "any" => return Ok(AllowedPeers::open()),
            PeersAllowed::Word(w) => {
                return Err((
                    "tcp.peers_allowed".into(),
                    format!("{w:?}: must be \"any\" or a list of public keys"),
                ))
            }
            PeersAllowed::List(l) => l,
        };
        let mut out = AllowedPeers::default();
        let mut ids = BTreeSet::new();
        for (i, entry) in list.iter().enumerate() {
            let name = format!("tcp.peers_allowed[{i}]");
            let (hex, id) = match entry {
                AllowedKey::Key(k) => (k, None),
                AllowedKey::Entry(e) => (&e.key, e.id),
            };
            let key = PublicKey::from_hex(hex).map_err(|_| {
                (
                    name.clone(),
                    format!(
                        "{hex:?} is not a public key (66 hex digits of a compressed secp256k1 key)"
                    ),
                )
            })?;
            if let Some(id) = id {
                if id as usize >= FIRST_UNLISTED_HANDLE {
                    return Err((
                        name,
                        format!("id {id} must be below {FIRST_UNLISTED_HANDLE}"),
                    ));
                }
                if !ids.insert(id) {
                    return Err((name, format!("id {id} is listed twice")));
                }
            }
            if out.known.insert(key, id).is_some() {
                return Err((name, format!("key {hex} is listed twice")));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::net::node_key;

    #[test]
    fn parses_any_and_lists_and_names_bad_entries() {
        let k0 = node_key(1, 0).public.to_string();
        let k1 = node_key(1, 1).public.to_string();
        let cfg = |v: &str| Config::parse(&format!("[tcp]\npeers_allowed = {v}"), "t.toml", &[]);
        let c = cfg("\"any\"").unwrap();
        assert!(c.tcp.peers_allowed.policy().unwrap().any);
        let c = cfg(&format!("[\"{k0}\", {{ key = \"{k1}\", id = 1 }}]")).unwrap();
        let p = c.tcp.peers_allowed.policy().unwrap();
        assert!(!p.any);
        assert_eq!(p.known.len(), 2);
        assert_eq!(p.id_of(&node_key(1, 1).public), Some(1));
        assert_eq!(p.id_of(&node_key(1, 0).public), None);
        for (v, named, why) in [
            (
                "\"all\"".to_string(),
                "tcp.peers_allowed",
                "must be \"any\"",
            ),
            (
                format!("[\"{k0}\", \"zz\"]"),
                "tcp.peers_allowed[1]",
                "is not a public key",
            ),
            (
                format!("[\"{}\"]", &k0[..64]),
                "tcp.peers_allowed[0]",
                "is not a public key",
            ),
            (
                format!("[\"{k0}\", \"{k0}\"]"),
                "tcp.peers_allowed[1]",
                "listed twice",
            ),
            (
                format!("[{{ key = \"{k0}\", id = 3 }}, {{ key = \"{k1}\", id = 3 }}]"),
                "tcp.peers_allowed[1]",
                "id 3 is listed twice",
            ),
        ] {
            let e = cfg(&v).unwrap_err().to_string();
            assert!(e.contains(named) && e.contains(why), "{v}: {e}");
        }
        // 33 bytes that are not a point on the curve.
        let e = cfg(&format!("[\"04{}\"]", "00".repeat(32)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tcp.peers_allowed[0]"), "{e}");
    }
}
