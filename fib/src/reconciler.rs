//! The reconcile loop around a [`Dataplane`]: holds the desired state and a cached view of
//! the kernel, applies only the difference, and folds events into that view so that a
//! full dump (O(n²) in the kernel for big FDBs) happens only at start, after a Resync,
//! or after an error that leaves the view in doubt.
//!
//! ```text
//!  evpn: desired_mut() edits ──> sync() ── diff(desired, cache) ──> apply ──> kernel
//!  events ──> handle(ev) ── updates cache, says whether a sync is due
//! ```

use serde::Serialize;

use crate::dataplane::{ApplyReport, Dataplane, Event, EventReceiver, OwnedEntry};
use crate::error::FibError;
use crate::model::{FdbKey, FibState, NeighKey, Snapshot};
use crate::reconcile::{diff, record, Skipped};

/// What one `sync` did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// The kernel was dumped first (start, resync, or doubt after an error).
    pub dumped: bool,
    pub planned: usize,
    pub skipped: Skipped,
    pub apply: ApplyReport,
}

/// Counters of the loop, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReconcilerCounters {
    pub syncs: u64,
    pub dumps: u64,
    pub resyncs: u64,
}

pub struct Reconciler<D> {
    dp: D,
    desired: FibState,
    /// The kernel as last dumped plus every change since; `None`: dump at next sync.
    cache: Option<Snapshot>,
    counters: ReconcilerCounters,
}

impl<D: Dataplane> Reconciler<D> {
    pub fn new(dp: D) -> Self {
        Reconciler {
            dp,
            desired: FibState::default(),
            cache: None,
            counters: Default::default(),
        }
    }

    /// Subscribes to the dataplane's events (call before the first `sync`).
    pub fn subscribe(&mut self) -> Result<EventReceiver, FibError> {
        self.dp.subscribe()
    }

    pub fn dataplane(&self) -> &D {
        &self.dp
    }

    pub fn dataplane_mut(&mut self) -> &mut D {
        &mut self.dp
    }

    pub fn desired(&self) -> &FibState {
        &self.desired
    }

    /// Edit the desired state, then `sync`.
    pub fn desired_mut(&mut self) -> &mut FibState {
        &mut self.desired
    }

    pub fn set_desired(&mut self, desired: FibState) {
        self.desired = desired;
    }

    /// The cached view of the kernel (topology, local MACs, owned entries), if any.
    pub fn view(&self) -> Option<&Snapshot> {
        self.cache.as_ref()
    }

    pub fn counters(&self) -> ReconcilerCounters {
        self.counters
    }

    /// Folds an event into the cached view; true when a `sync` is due.
    pub fn handle(&mut self, ev: &Event) -> bool {
        if matches!(ev, Event::Resync) {
            self.counters.resyncs += 1;
            self.cache = None;
            return true;
        }
        let Some(c) = self.cache.as_mut() else {
            return true;
        };
        let d = &self.desired;
        let wanted_mac = |key: &FdbKey| d.fdb.contains_key(key);
        let wanted_ip = |key: &NeighKey| d.neigh.contains_key(key);
        match ev {
            Event::Resync => true,
            Event::Topology(t) => {
                c.topology = t.clone();
                true
            }
            Event::LocalMacAdded {
                vni,
                mac,
                port,
                sticky,
            } => {
                let key = FdbKey {
                    vni: *vni,
                    mac: *mac,
                };
                c.local.macs.insert(
                    key,
                    crate::model::LocalMac {
                        port: *port,
                        sticky: *sticky,
                    },
                );
                // Local wins: an owned remote entry for it must go.
                wanted_mac(&key) || c.owned.fdb.contains_key(&key)
            }
            Event::LocalMacRemoved { vni, mac } => {
                let key = FdbKey {
                    vni: *vni,
                    mac: *mac,
                };
                c.local.macs.remove(&key).is_some() && wanted_mac(&key)
            }
            Event::LocalNeighAdded { vni, ip, mac } => {
                let key = NeighKey { vni: *vni, ip: *ip };
                c.local.neigh.insert(key, *mac);
                // The kernel replaced ours if it was ours; now it is foreign.
                c.owned.neigh.remove(&key);
                c.foreign.neigh.insert(key);
                wanted_ip(&key)
            }
            Event::LocalNeighRemoved { vni, ip } => {
                let key = NeighKey { vni: *vni, ip: *ip };
                c.local.neigh.remove(&key);
                c.foreign.neigh.remove(&key);
                wanted_ip(&key)
            }
            Event::OwnedRemoved(e) => match e {
                OwnedEntry::Fdb(key) => {
                    c.owned.fdb.remove(key);
                    wanted_mac(key)
                }
                OwnedEntry::Flood { vni, vtep } => {
                    c.owned.flood.remove(&(*vni, *vtep));
                    d.flood.contains(&(*vni, *vtep))
                }
                OwnedEntry::Neigh(key) => {
                    c.owned.neigh.remove(key);
                    wanted_ip(key)
                }
            },
        }
    }

    /// Makes the kernel match the desired state: dumps if the view is unknown, plans the
    /// difference, applies it, and records what succeeded.
    pub fn sync(&mut self) -> Result<SyncReport, FibError> {
        self.counters.syncs += 1;
        let mut report = SyncReport::default();
        let cache = match self.cache.take() {
            Some(c) => c,
            None => {
                report.dumped = true;
                self.counters.dumps += 1;
                self.dp.dump()?
            }
        };
        let mut cache = cache;
        let plan = diff(&self.desired, &cache);
        report.planned = plan.ops.len();
        report.skipped = plan.skipped;
        report.apply = self.dp.apply(&plan);
        // Per op: recorded as done? A delete that found nothing is done too.
        let mut done = vec![true; plan.ops.len()];
        let mut doubt = false;
        for e in &report.apply.errors {
            match e.error {
                FibError::NotFound => {}
                // A flood VTEP already held by a hand-made row: not ours, not recorded.
                FibError::Exists => {
                    if let Some(d) = done.get_mut(e.index) {
                        *d = false;
                    }
                    if let crate::reconcile::Op::FloodAppend { vni, vtep } = e.op {
                        cache.foreign.flood.insert((vni, vtep));
                    }
                }
                _ => {
                    doubt = true;
                    if let Some(d) = done.get_mut(e.index) {
                        *d = false;
                    }
                }
            }
        }
        for (op, done) in plan.ops.iter().zip(&done) {
            if *done {
                record(&mut cache.owned, op);
            }
        }
        // After a device vanished or an ack was lost, only a dump tells the truth.
        self.cache = if doubt { None } else { Some(cache) };
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDataplane;
    use crate::model::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn topo() -> Topology {
        crate::testutil::br100_vxlan100()
    }

    fn key(n: u8) -> FdbKey {
        FdbKey {
            vni: Vni(100),
            mac: Mac([2, 0, 0, 0, 0, n]),
        }
    }

    fn dest(n: u8) -> RemoteFdb {
        RemoteFdb {
            vtep: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            sticky: false,
        }
    }

    fn drain(r: &mut Reconciler<MemoryDataplane>, rx: &mut EventReceiver) -> bool {
        let mut due = false;
        while let Ok(ev) = rx.try_recv() {
            due |= r.handle(&ev);
        }
        due
    }

    #[test]
    fn dumps_once_then_applies_only_changes() {
        let mut r = Reconciler::new(MemoryDataplane::new(topo()));
        let mut rx = r.subscribe().unwrap();
        r.desired_mut().fdb.insert(key(1), dest(2));
        let s = r.sync().unwrap();
        assert!(s.dumped && s.planned == 1 && s.apply.is_ok());
        r.desired_mut().fdb.insert(key(2), dest(3));
        let s = r.sync().unwrap();
        assert!(!s.dumped);
        assert_eq!(s.planned, 1);
        let s = r.sync().unwrap();
        assert_eq!(s.planned, 0);
        assert_eq!(r.dataplane().counters().dumps, 1);
        assert_eq!(r.dataplane().state.owned.fdb.len(), 2);
        assert!(!drain(&mut r, &mut rx));
    }

    #[test]
    fn local_mac_wins_and_remote_returns_when_it_ages_out() {
        let mut r = Reconciler::new(MemoryDataplane::new(topo()));
        let mut rx = r.subscribe().unwrap();
        r.desired_mut().fdb.insert(key(1), dest(2));
        r.sync().unwrap();
        r.dataplane_mut().learn_local(Vni(100), key(1).mac, 7);
        assert!(drain(&mut r, &mut rx));
        let s = r.sync().unwrap();
        assert!(!s.dumped);
        assert_eq!(s.skipped.local_wins, 1);
        assert!(
            r.dataplane().state.owned.fdb.is_empty(),
            "remote entry removed"
        );
        r.dataplane_mut().age_local(Vni(100), key(1).mac);
        assert!(drain(&mut r, &mut rx));
        r.sync().unwrap();
        assert_eq!(r.dataplane().state.owned.fdb.get(&key(1)), Some(&dest(2)));
    }

    #[test]
    fn owned_entry_removed_by_hand_is_restored_without_dump() {
        let mut r = Reconciler::new(MemoryDataplane::new(topo()));
        let mut rx = r.subscribe().unwrap();
        r.desired_mut().fdb.insert(key(1), dest(2));
        r.sync().unwrap();
        r.dataplane_mut().state.owned.fdb.clear();
        r.dataplane_mut()
            .inject(Event::OwnedRemoved(OwnedEntry::Fdb(key(1))));
        assert!(drain(&mut r, &mut rx));
        let s = r.sync().unwrap();
        assert!(!s.dumped && s.planned == 1);
        assert_eq!(r.dataplane().state.owned.fdb.get(&key(1)), Some(&dest(2)));
        // Removal of something not desired (e.g. our own delete) asks for nothing.
        assert!(!r.handle(&Event::OwnedRemoved(OwnedEntry::Fdb(key(9)))));
    }

    #[test]
    fn resync_and_device_errors_force_a_dump() {
        let mut r = Reconciler::new(MemoryDataplane::new(topo()));
        r.desired_mut().fdb.insert(key(1), dest(2));
        r.sync().unwrap();
        assert!(r.handle(&Event::Resync));
        assert!(r.sync().unwrap().dumped);
        r.dataplane_mut().broken_vnis.insert(Vni(100));
        r.desired_mut().fdb.insert(key(2), dest(2));
        let s = r.sync().unwrap();
        assert_eq!(s.apply.errors.len(), 1);
        assert!(r.view().is_none(), "view dropped after ENODEV");
        r.dataplane_mut().broken_vnis.clear();
        let s = r.sync().unwrap();
        assert!(s.dumped && s.apply.is_ok() && s.planned == 1);
        assert_eq!(r.counters().dumps, 3);
        assert_eq!(r.counters().resyncs, 1);
    }
}
