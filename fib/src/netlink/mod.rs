//! The Linux dataplane: rtnetlink over a batched socket ([`socket`]), requests shaped
//! like FRR's zebra ([`encode`]), dumps and events classified by [`decode`], and a
//! monitor thread ([`monitor`]) that turns kernel notifications into [`Event`](crate::Event)s.
//!
//! ```text
//!  evpn layer ──Plan──> NetlinkDataplane::apply ──batches of ~1000 msgs──> kernel
//!             <─Snapshot─ NetlinkDataplane::dump <──── dumps (link, addr, fdb, neigh)
//!  EventReceiver <──mpsc (bounded)── monitor thread <── RTNLGRP_{LINK,NEIGH,IFADDR}
//! ```

pub mod decode;
pub mod encode;
pub mod monitor;
pub mod socket;
pub mod vnifilter;

use std::path::{Path, PathBuf};
use std::time::Instant;

use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::neighbour::NeighbourMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::dataplane::{ApplyReport, Counters, Dataplane, EventReceiver, OpError};
use crate::error::FibError;
use crate::model::{Snapshot, Topology, VniBinding};
use crate::reconcile::Plan;
use decode::{FdbRow, NeighRow};
pub use monitor::MonitorConfig;
use socket::{Answer, RequestSocket};

/// rtnetlink dataplane of one network namespace.
pub struct NetlinkDataplane {
    netns: Option<PathBuf>,
    sock: RequestSocket,
    topology: Topology,
    counters: Counters,
}

/// Dumps links and addresses into a topology.
pub(crate) fn dump_topology(sock: &mut RequestSocket) -> Result<Topology, FibError> {
    let mut links: Vec<LinkMessage> = Vec::new();
    sock.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), |m| {
        if let RouteNetlinkMessage::NewLink(l) = m {
            links.push(l);
        }
    })?;
    let mut addrs: Vec<AddressMessage> = Vec::new();
    sock.dump(
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        |m| {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                addrs.push(a);
            }
        },
    )?;
    let mut t = decode::topology(&links, &addrs);
    if t.vxlans.values().any(|d| d.vnifilter) {
        for (ifindex, vni) in vnifilter::dump(sock)? {
            let external = t.vxlans.get(&ifindex).is_some_and(|d| d.external);
            if external {
                t.filtered.insert(
                    vni,
                    VniBinding {
                        vni,
                        vxlan: ifindex,
                        bridge: None,
                        vlan: None,
                        external,
                    },
                );
            }
        }
    }
    Ok(t)
}

fn neigh_dump_request(family: AddressFamily) -> RouteNetlinkMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = family;
    RouteNetlinkMessage::GetNeighbour(m)
}

impl NetlinkDataplane {
    /// The dataplane of the caller's own network namespace.
    pub fn new() -> Result<Self, FibError> {
        Self::open(None)
    }

    /// The dataplane of the namespace at `path` (e.g. `/run/netns/NAME`); this thread
    /// stays where it is.
    pub fn in_netns(path: impl AsRef<Path>) -> Result<Self, FibError> {
        Self::open(Some(path.as_ref().to_path_buf()))
    }

    fn open(netns: Option<PathBuf>) -> Result<Self, FibError> {
        let sock = RequestSocket::open(netns.as_deref())?;
        Ok(NetlinkDataplane {
            netns,
            sock,
            topology: Topology::default(),
            counters: Counters::default(),
        })
    }

    /// The topology of the last dump (used to resolve VNIs in `apply`).
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// `subscribe` with other buffer sizes (tests provoke an overflow with tiny ones).
    pub fn subscribe_with(&mut self, cfg: MonitorConfig) -> Result<EventReceiver, FibError> {
        monitor::spawn(self.netns.clone(), cfg)
    }

    /// Re-reads links and addresses only.
    pub fn refresh_topology(&mut self) -> Result<&Topology, FibError> {
        self.topology = dump_topology(&mut self.sock)?;
        Ok(&self.topology)
    }
}

impl Dataplane for NetlinkDataplane {
    fn dump(&mut self) -> Result<Snapshot, FibError> {
        let start = Instant::now();
        let topology = dump_topology(&mut self.sock)?;
        let mut snap = Snapshot {
            topology,
            ..Default::default()
        };
        let t = &snap.topology;
        let (owned, foreign, local) = (&mut snap.owned, &mut snap.foreign, &mut snap.local);
        self.sock
            .dump(neigh_dump_request(AddressFamily::Bridge), |m| {
                let RouteNetlinkMessage::NewNeighbour(n) = m else {
                    return;
                };
                match decode::fdb_row(t, &n) {
                    FdbRow::Remote {
                        key,
                        dest,
                        owned: true,
                    } => {
                        owned.fdb.insert(key, dest);
                    }
                    FdbRow::Remote {
                        key, owned: false, ..
                    } => {
                        foreign.fdb.insert(key);
                    }
                    FdbRow::Flood {
                        vni,
                        vtep,
                        owned: true,
                    } => {
                        owned.flood.insert((vni, vtep));
                    }
                    FdbRow::Flood {
                        vni,
                        vtep,
                        owned: false,
                    } => {
                        foreign.flood.insert((vni, vtep));
                    }
                    FdbRow::Local { key, local: l } => {
                        local.macs.insert(key, l);
                    }
                    FdbRow::BridgeOnVxlan { .. } | FdbRow::Ignore => {}
                }
            })?;
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            self.sock.dump(neigh_dump_request(family), |m| {
                let RouteNetlinkMessage::NewNeighbour(n) = m else {
                    return;
                };
                match decode::neigh_row(t, &n) {
                    NeighRow::Owned { key, mac } => {
                        owned.neigh.insert(key, mac);
                    }
                    NeighRow::Foreign { key, mac } => {
                        foreign.neigh.insert(key);
                        local.neigh.insert(key, mac);
                    }
                    NeighRow::Unresolved { .. } | NeighRow::Ignore => {}
                }
            })?;
        }
        self.topology = snap.topology.clone();
        self.counters.dumps += 1;
        self.counters.last_dump = start.elapsed();
        Ok(snap)
    }

    fn apply(&mut self, plan: &Plan) -> ApplyReport {
        let start = Instant::now();
        let sends_before = self.sock.sends;
        let msgs_before = self.sock.messages;
        // A VNI we have not seen yet may have appeared since the last dump.
        if plan
            .ops
            .iter()
            .any(|op| self.topology.binding(op.vni()).is_none())
        {
            if let Ok(t) = dump_topology(&mut self.sock) {
                self.topology = t;
            }
        }
        let mut failed: Vec<Option<FibError>> = Vec::with_capacity(plan.ops.len());
        failed.resize_with(plan.ops.len(), || None);
        // (op index, ENOENT tolerated) per queued request of the current batch.
        let mut owners: Vec<(usize, bool)> = Vec::new();
        let mut reqs = Vec::new();
        for (i, op) in plan.ops.iter().enumerate() {
            reqs.clear();
            if let Err(e) = encode::encode(op, &self.topology, &mut reqs) {
                if let Some(slot) = failed.get_mut(i) {
                    *slot = Some(e);
                }
                continue;
            }
            for r in reqs.drain(..) {
                self.sock.push(r.flags, r.msg);
                owners.push((i, r.enoent_ok));
            }
            if self.sock.batch_full() {
                self.flush(&mut owners, &mut failed);
            }
        }
        self.flush(&mut owners, &mut failed);

        let mut report = ApplyReport::default();
        for (index, (slot, op)) in failed.into_iter().zip(&plan.ops).enumerate() {
            match slot {
                None => report.applied += 1,
                Some(error) => report.errors.push(OpError {
                    index,
                    op: *op,
                    error,
                }),
            }
        }
        report.sends = self.sock.sends - sends_before;
        report.duration = start.elapsed();
        self.counters.ops_applied += report.applied as u64;
        self.counters.op_errors += report.errors.len() as u64;
        self.counters.batches += report.sends;
        self.counters.messages += self.sock.messages - msgs_before;
        self.counters.last_apply = report.duration;
        report
    }

    fn subscribe(&mut self) -> Result<EventReceiver, FibError> {
        monitor::spawn(self.netns.clone(), MonitorConfig::default())
    }

    fn counters(&self) -> Counters {
        self.counters
    }
}

impl NetlinkDataplane {
    fn flush(&mut self, owners: &mut Vec<(usize, bool)>, failed: &mut [Option<FibError>]) {
        if owners.is_empty() {
            return;
        }
        let answers = self.sock.flush();
        let set = |failed: &mut [Option<FibError>], i: usize, e: FibError| {
            if let Some(slot @ None) = failed.get_mut(i) {
                *slot = Some(e);
            }
        };
        match answers {
            Ok(answers) => {
                for (&(i, enoent_ok), a) in owners.iter().zip(answers) {
                    match a {
                        Answer::Ok => {}
                        Answer::Err(libc::ENOENT) if enoent_ok => {}
                        Answer::Err(e) => set(failed, i, FibError::from_errno(e)),
                        Answer::Lost => set(failed, i, FibError::AckLost),
                    }
                }
            }
            Err(e) => {
                // The whole batch failed to go out (or its answers could not be read).
                let msg = e.to_string();
                for &(i, _) in owners.iter() {
                    set(failed, i, FibError::Io(std::io::Error::other(msg.clone())));
                }
            }
        }
        owners.clear();
    }
}
