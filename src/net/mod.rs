//! The peer-to-peer protocol, as pure decisions: the messages ([`wire`]), what to announce,
//! fetch and relay ([`gossip`]), TCP frames and the authenticated handshake ([`frame`]), who a
//! peer is ([`identity`]: allowed keys, local handles, duplicate connections), and peer hygiene: offences, rate limits, flood detection, discouragement, backoff ([`hygiene`]).
//! The sockets live in `chainlab-actors`; time and randomness come in as arguments.

pub mod frame;
pub mod gossip;
pub mod hygiene;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod recent;
pub mod wire;

pub use frame::*;
pub use hygiene::*;
pub use identity::*;
