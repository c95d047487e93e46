//! chainlab's runtime: each node is four actix actors around the pure core of the `chainlab`
//! crate, linked to other nodes by a transport; a cluster harness runs many nodes in one
//! process on a virtual (deterministic) or real clock.
//!
//! ```text
//!                  one node                                   other nodes
//!   ┌────────────────────────────────────────────┐
//!   │  SubmitTx ─► MempoolActor ◄── TipChanged ──┐│
//!   │                │  ▲   TxsAccepted          ││
//!   │   GetTemplate  │  │        │               ││
//!   │                ▼  │        ▼               ││     Deliver / WireMsg
//!   │  MinerActor ──ImportBlocks─► ChainActor ───┤│◄──────────────┐
//!   │      ▲   BuildTemplate        │  │ ▲       ││               │
//!   │      └──── TipChanged ────────┘  │ │       ││   ┌───────────┴─────────┐
//!   │       BlocksAccepted, TipChanged ▼ │Import ││   │ Transport (memory:  │
//!   │                RequestSync  PeerActor ─────┼┼──►│ Network actor with  │
//!   │                                            │    │ per-link delays)    │
//!   └────────────────────────────────────────────┘    └─────────────────────┘
//!        ChainActor persists to a BlockStore (sled or memory) before announcing.
//!        Every node message is in `node::messages`; the map is docs/architecture.md.
//! ```
//!
//! Handlers are thin: each checks its inputs and calls one core function; decisions (what to
//! fetch, relay, mine, evict, which tip wins) are made in the core.

pub mod bench;
pub mod clock;
pub mod cluster;
pub mod inspect;
pub mod keyfile;
pub mod logging;
pub mod node;
pub mod recorder;
pub mod runtime;
pub mod standalone;
pub mod store_sled;
pub mod transport;
pub mod workload;
