//! evpnlab: builds containerlab topologies (`*.clab.yml`) with network namespaces, FRR and
//! evpnd on one machine, without docker. See `topologies/README.md`.

pub mod daemons;
pub mod error;
pub mod lab;
pub mod node;
pub mod state;
pub mod sys;
pub mod topology;
pub mod yaml;

pub use error::{Error, Result};
pub use topology::{Role, Topology};
