//! Simulation: the seeded models (link latency, topology, hash-power shares, block-finding
//! times) and the fault vocabulary with its link-fault decisions.

pub mod fault;
pub mod model;
