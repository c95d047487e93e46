//! Who a TCP peer is. A peer is its public key: the handshake proves that it holds the secret
//! key, and nothing else it says about itself is trusted. This module decides which keys may
//! connect ([`AllowedPeers`]: a list, or any key), under which local handle the node's actors
//! know a connected key ([`PeerBook`]), and which of two connections between the same two keys
//! both sides keep ([`keep_new_connection`]).

use crate::crypto::PublicKey;
use crate::net::frame::{node_key, HandshakeError};
use crate::NodeId;
use std::collections::BTreeMap;

/// Handles of keys without a known node id start here (listed node ids must stay below it, so
/// the two never meet).
pub const FIRST_UNLISTED_HANDLE: NodeId = 1 << 31;

/// Handles remembered for keys without a known node id (the oldest not connected is forgotten
/// first; a forgotten handle is never given out again).
pub const UNLISTED_HANDLES: usize = 4096;

/// Which public keys may connect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedPeers {
    /// Any key may connect (an open network); otherwise only the keys in `known`
    /// (a permissioned network).
    pub any: bool,
    /// Keys known in advance, each with its node id when that is known.
    pub known: BTreeMap<PublicKey, Option<u32>>,
}

impl AllowedPeers {
    /// Any key may connect; none is known.
    pub fn open() -> AllowedPeers {
        AllowedPeers {
            any: true,
            known: BTreeMap::new(),
        }
    }

    /// Adds the keys an in-process cluster run from `seed` derives for its nodes `0..nodes`
    /// ([`node_key`]), each with its id.
    pub fn with_cluster_keys(mut self, seed: u64, nodes: usize) -> AllowedPeers {
        for i in 0..nodes as u32 {
            self.known.insert(node_key(seed, i).public, Some(i));
        }
        self
    }

    /// The node id listed for `key`, if any.
    pub fn id_of(&self, key: &PublicKey) -> Option<u32> {
        self.known.get(key).copied().flatten()
    }

    /// May `key`, claiming node id `claimed`, connect? A listed key with a node id must claim
    /// that id (a mismatch is a misconfiguration); otherwise the claimed id is only
    /// informational.
    ///
    /// # Errors
    /// [`HandshakeError::NotAllowed`] for a key not listed in a permissioned network,
    /// [`HandshakeError::WrongId`] for a listed key claiming another id.
    pub fn check(&self, key: &PublicKey, claimed: u32) -> Result<(), HandshakeError> {
        match self.known.get(key) {
            Some(Some(id)) if *id != claimed => Err(HandshakeError::WrongId {
                key: key.short(),
                listed: *id,
                claimed,
            }),
            Some(_) => Ok(()),
            None if self.any => Ok(()),
            None => Err(HandshakeError::NotAllowed(key.to_string())),
        }
    }
}

/// The local handles of connected keys. The node's actors address peers by a [`NodeId`]: a key
/// with a known node id is known by that id (so an in-process cluster's links keep their node
/// ids); any other key gets a fresh handle from [`FIRST_UNLISTED_HANDLE`] on, kept while it is
/// remembered. A handle names one key only, ever.
#[derive(Clone, Debug)]
pub struct PeerBook {
    next: NodeId,
    handles: BTreeMap<PublicKey, NodeId>,
    keys: BTreeMap<NodeId, PublicKey>,
    capacity: usize,
}

impl Default for PeerBook {
    fn default() -> Self {
        PeerBook::new(UNLISTED_HANDLES)
    }
}

impl PeerBook {
    /// Remembers the handles of at most `capacity` keys without a node id.
    pub fn new(capacity: usize) -> PeerBook {
        PeerBook {
            next: FIRST_UNLISTED_HANDLE,
            handles: BTreeMap::new(),
            keys: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The handle of `key` (whose listed node id is `id`). When the book is full, the oldest
    /// handle for which `in_use` is false is forgotten.
    pub fn handle(
        &mut self,
        key: &PublicKey,
        id: Option<u32>,
        in_use: impl Fn(NodeId) -> bool,
    ) -> NodeId {
        if let Some(id) = id {
            let h = id as NodeId;
            self.keys.insert(h, *key);
            return h;
        }
        if let Some(h) = self.handles.get(key) {
            return *h;
        }
        if self.handles.len() >= self.capacity {
            let old = self
                .keys
                .range(FIRST_UNLISTED_HANDLE..)
                .map(|(h, _)| *h)
                .find(|h| !in_use(*h));
            if let Some(old) = old {
                if let Some(k) = self.keys.remove(&old) {
                    self.handles.remove(&k);
                }
            }
        }
        let h = self.next;
        self.next += 1;
        self.handles.insert(*key, h);
        self.keys.insert(h, *key);
        h
    }

    /// The handle `key` has now, without giving it one.
    pub fn lookup(&self, key: &PublicKey, id: Option<u32>) -> Option<NodeId> {
        match id {
            Some(id) => Some(id as NodeId),
            None => self.handles.get(key).copied(),
        }
    }

    /// The key behind a handle, while it is remembered.
    pub fn key_of(&self, handle: NodeId) -> Option<PublicKey> {
        self.keys.get(&handle).copied()
    }

    /// Handles remembered for keys without a node id.
    pub fn unlisted(&self) -> usize {
        self.handles.len()
    }
}

/// Two authenticated connections link this node (key `own`) and the peer holding `peer`: does
/// the new one replace the old? Both sides keep the connection dialled by the side with the
/// lower key (byte order), so they agree without talking. Only a connection that proved `peer`
/// can get here, so nobody but the key's holder can replace its connection.
pub fn keep_new_connection(
    own: &PublicKey,
    peer: &PublicKey,
    old_dialled_by_peer: bool,
    new_dialled_by_peer: bool,
) -> bool {
    let keeper_is_peer = peer < own;
    old_dialled_by_peer != keeper_is_peer && new_dialled_by_peer == keeper_is_peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyPair;

    fn key(n: u8) -> PublicKey {
        KeyPair::from_seed(&[n]).public
    }

    #[test]
    fn permissioned_refuses_unlisted_keys_and_checks_listed_ids() {
        let mut a = AllowedPeers::default();
        a.known.insert(key(1), Some(4));
        a.known.insert(key(2), None);
        assert_eq!(a.check(&key(1), 4), Ok(()));
        assert_eq!(a.check(&key(2), 77), Ok(()), "no id listed: any claim");
        assert_eq!(
            a.check(&key(1), 5),
            Err(HandshakeError::WrongId {
                key: key(1).short(),
                listed: 4,
                claimed: 5
            })
        );
        let e = a.check(&key(3), 4).unwrap_err();
        assert_eq!(e, HandshakeError::NotAllowed(key(3).to_string()));
        assert!(e.to_string().contains(&key(3).to_string()), "{e}");
        a.any = true;
        assert_eq!(a.check(&key(3), 4), Ok(()), "open: any key");
        assert!(a.check(&key(1), 5).is_err(), "a listed id still binds");
    }

    #[test]
    fn cluster_keys_are_listed_with_their_ids() {
        let a = AllowedPeers::default().with_cluster_keys(9, 3);
        assert_eq!(a.id_of(&node_key(9, 2).public), Some(2));
        assert!(a.check(&node_key(9, 3).public, 3).is_err());
        assert!(a.check(&node_key(9, 1).public, 2).is_err());
    }

    #[test]
    fn handles_are_ids_for_listed_keys_and_fresh_for_others() {
        let mut b = PeerBook::new(2);
        let none = |_| false;
        assert_eq!(b.handle(&key(1), Some(3), none), 3);
        let h2 = b.handle(&key(2), None, none);
        assert_eq!(h2, FIRST_UNLISTED_HANDLE);
        assert_eq!(b.handle(&key(2), None, none), h2, "stable while remembered");
        assert_eq!(b.lookup(&key(2), None), Some(h2));
        assert_eq!(b.lookup(&key(5), None), None);
        let h3 = b.handle(&key(3), None, none);
        assert_eq!(h3, h2 + 1);
        assert_eq!(b.key_of(h2), Some(key(2)));
        // Full: the oldest handle not in use goes; handle numbers are never reused.
        let h4 = b.handle(&key(4), None, |h| h == h2);
        assert_eq!(h4, h3 + 1);
        assert_eq!(b.key_of(h3), None, "forgotten");
        assert_eq!(b.key_of(h2), Some(key(2)), "in use: kept");
        assert_eq!(b.unlisted(), 2);
        assert_eq!(b.handle(&key(3), None, |_| true), h4 + 1, "a new handle");
        assert_eq!(b.key_of(3), Some(key(1)));
    }

    #[test]
    fn both_sides_keep_the_connection_dialled_by_the_lower_key() {
        let (lo, hi) = if key(1) < key(2) {
            (key(1), key(2))
        } else {
            (key(2), key(1))
        };
        // On each side: (own, peer); which connection survives, named by its dialler.
        for (old_by_lo, new_by_lo) in [(true, false), (false, true), (true, true), (false, false)] {
            // The low side sees "dialled by peer" = dialled by hi.
            let at_lo = keep_new_connection(&lo, &hi, !old_by_lo, !new_by_lo);
            let at_hi = keep_new_connection(&hi, &lo, old_by_lo, new_by_lo);
            assert_eq!(at_lo, at_hi, "both sides agree");
            assert_eq!(at_lo, !old_by_lo && new_by_lo);
        }
    }
}
