//! The dataplane interface the EVPN layer drives, and what it reports back.
//!
//! Usage (order matters): `subscribe()` first, then `dump()`, so no event falls between
//! the dump and the subscription; `diff` the dump against the desired state; `apply` the
//! plan; on [`Event::Resync`] dump and reconcile again.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::error::FibError;
use crate::model::{FdbKey, Mac, NeighKey, Snapshot, Topology, Vni};
use crate::reconcile::{Op, Plan};

/// Something changed in the kernel that the upper layer cares about.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub enum Event {
    /// Links or addresses changed (VXLAN device or bridge created, deleted, up/down,
    /// re-enslaved, SVI address changed): the new topology.
    Topology(Topology),
    /// The bridge learned (or was given) a MAC on a non-VXLAN port.
    LocalMacAdded {
        vni: Vni,
        mac: Mac,
        port: u32,
        sticky: bool,
    },
    /// A local MAC aged out, was flushed or moved away from the local ports.
    LocalMacRemoved {
        vni: Vni,
        mac: Mac,
    },
    /// The SVI learned a local MAC/IP pair.
    LocalNeighAdded {
        vni: Vni,
        ip: IpAddr,
        mac: Mac,
    },
    LocalNeighRemoved {
        vni: Vni,
        ip: IpAddr,
    },
    /// An entry evpnd owns was removed: by evpnd itself, or behind its back (by hand, a
    /// link going away, the kernel). If it is still desired, reconcile it again.
    OwnedRemoved(OwnedEntry),
    /// Events were lost (ENOBUFS on the monitor socket): dump and reconcile.
    Resync,
}

/// An entry of [`FibState`](crate::model::FibState).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum OwnedEntry {
    Fdb(FdbKey),
    Flood { vni: Vni, vtep: IpAddr },
    Neigh(NeighKey),
}

/// Receiving side of the event stream; usable from async (`recv().await`) and blocking
/// (`blocking_recv()`) code. Bounded: a slow consumer backs up into the kernel socket,
/// whose overflow becomes [`Event::Resync`].
pub type EventReceiver = tokio::sync::mpsc::Receiver<Event>;

/// A failed operation of a plan.
#[derive(Debug)]
pub struct OpError {
    /// Index into `Plan::ops`.
    pub index: usize,
    pub op: Op,
    pub error: FibError,
}

/// The outcome of applying a plan: every operation either succeeded or is listed here.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub applied: usize,
    pub errors: Vec<OpError>,
    /// send() calls used (netlink batches).
    pub sends: u64,
    pub duration: Duration,
}

impl ApplyReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Running totals for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub ops_applied: u64,
    pub op_errors: u64,
    /// send() calls carrying requests.
    pub batches: u64,
    /// netlink messages sent (one op may take more than one).
    pub messages: u64,
    pub dumps: u64,
    pub last_apply: Duration,
    pub last_dump: Duration,
}

/// A kernel (or a stand-in for it) that evpnd programs.
pub trait Dataplane {
    /// Reads topology, owned/foreign remote state and local state.
    fn dump(&mut self) -> Result<Snapshot, FibError>;
    /// Applies a plan in order. Failures are per operation; the rest still runs.
    fn apply(&mut self, plan: &Plan) -> ApplyReport;
    /// Starts the event stream. Call before the first `dump`.
    fn subscribe(&mut self) -> Result<EventReceiver, FibError>;
    fn counters(&self) -> Counters;
}
