//! Simulation: the seeded models (link latency, topology, hash-power shares, block-finding
//! times), bandwidth as a queue (link), the fault vocabulary with its link-fault decisions, and
//! the fault timeline's decisions (what applying or undoing an entry does, as actions).

pub mod fault;
pub mod link;
pub mod model;
pub mod timeline;
