//! Kernel dataplane for evpnd: the VXLAN FDB (remote MACs), head-end replication flood
//! lists and SVI neighbours, programmed through rtnetlink the way FRR's zebra does.
//!
//! Sans-IO core, IO at the edge:
//! - [`model`]: plain data (keyed by VNI) for topology, owned, foreign and local state.
//! - [`reconcile`]: pure `diff(desired, actual) -> Plan`.
//! - [`Dataplane`]: dump / apply / events, implemented by [`memory::MemoryDataplane`]
//!   (tests of upper layers) and [`netlink::NetlinkDataplane`] (Linux).

pub mod model;
pub mod reconcile;

pub use model::*;
pub use reconcile::{diff, Op, Plan, Skipped};
pub mod dataplane;
pub mod error;
pub mod memory;

pub use dataplane::{ApplyReport, Counters, Dataplane, Event, EventReceiver, OpError, OwnedEntry};
pub use error::FibError;
pub mod netlink;
pub use netlink::NetlinkDataplane;
