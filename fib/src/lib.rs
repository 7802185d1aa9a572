//! Kernel dataplane for evpnd: the VXLAN FDB (remote MACs), head-end replication flood
//! lists and SVI neighbours, programmed through rtnetlink the way FRR's zebra does.
//!
//! Sans-IO core, IO at the edge:
//! - [`model`]: plain data (keyed by VNI) for topology, owned, foreign and local state.
//! - [`reconcile`]: pure `diff(desired, actual) -> Plan` (ownership and local-wins rules).
//! - [`Dataplane`]: dump / apply / events, implemented by [`memory::MemoryDataplane`]
//!   (tests of upper layers) and [`netlink::NetlinkDataplane`] (Linux).
//! - [`Reconciler`]: the loop around a dataplane — desired state, a cached kernel view
//!   kept current by events, dumps only when the view is in doubt.
//!
//! Everything is synchronous; `NetlinkDataplane` and `Reconciler` are `Send`, so the
//! daemon runs them on a thread of their own (or `spawn_blocking`) and awaits events on
//! the [`EventReceiver`] (a tokio mpsc receiver).

pub mod dataplane;
pub mod error;
pub mod memory;
pub mod model;
pub mod netlink;
pub mod reconcile;
pub mod reconciler;
#[cfg(test)]
mod testutil;

pub use dataplane::{ApplyReport, Counters, Dataplane, Event, EventReceiver, OpError, OwnedEntry};
pub use error::FibError;
pub use model::*;
pub use netlink::{MonitorConfig, NetlinkDataplane};
pub use reconcile::{diff, Op, Plan, Skipped};
pub use reconciler::{Reconciler, ReconcilerCounters, SyncReport};

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}

    #[test]
    fn dataplanes_can_move_to_their_own_thread() {
        assert_send::<super::NetlinkDataplane>();
        assert_send::<super::Reconciler<super::NetlinkDataplane>>();
        assert_send::<super::memory::MemoryDataplane>();
    }
}
