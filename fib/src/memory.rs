//! An in-memory dataplane that behaves like the kernel as far as evpnd can tell: the same
//! errors (EEXIST on a duplicate flood append, ENOENT on deleting what is not there,
//! unknown VNI), foreign entries that stay, and local MACs and neighbours that tests
//! inject. For sans-IO tests of the EVPN layer and the daemon.

use std::net::IpAddr;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::dataplane::{ApplyReport, Counters, Dataplane, Event, EventReceiver, OpError};
use crate::error::FibError;
use crate::model::{FdbKey, LocalMac, Mac, NeighKey, Snapshot, Topology, Vni};
use crate::reconcile::{Op, Plan};

const EVENT_QUEUE: usize = 4096;

#[derive(Debug, Default)]
pub struct MemoryDataplane {
    /// The "kernel": edit it freely in tests (e.g. add foreign entries).
    pub state: Snapshot,
    /// Operations on these VNIs fail with ENODEV, as if the device vanished mid-apply.
    pub broken_vnis: std::collections::BTreeSet<Vni>,
    counters: Counters,
    subscribers: Vec<mpsc::Sender<Event>>,
    /// An event could not be queued: the next delivery starts with `Resync`.
    lost: bool,
}

impl MemoryDataplane {
    pub fn new(topology: Topology) -> Self {
        MemoryDataplane {
            state: Snapshot {
                topology,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn emit(&mut self, ev: Event) {
        self.subscribers.retain(|s| !s.is_closed());
        for s in &self.subscribers {
            if self.lost && s.try_send(Event::Resync).is_err() {
                continue;
            }
            self.lost = s.try_send(ev.clone()).is_err();
        }
    }

    /// A host sent a frame on bridge port `port` in `vni`.
    pub fn learn_local(&mut self, vni: Vni, mac: Mac, port: u32) {
        let key = FdbKey { vni, mac };
        self.state.local.macs.insert(
            key,
            LocalMac {
                port,
                sticky: false,
            },
        );
        self.emit(Event::LocalMacAdded {
            vni,
            mac,
            port,
            sticky: false,
        });
    }

    /// A local MAC aged out.
    pub fn age_local(&mut self, vni: Vni, mac: Mac) {
        if self.state.local.macs.remove(&FdbKey { vni, mac }).is_some() {
            self.emit(Event::LocalMacRemoved { vni, mac });
        }
    }

    pub fn learn_local_neigh(&mut self, vni: Vni, ip: IpAddr, mac: Mac) {
        self.state.local.neigh.insert(NeighKey { vni, ip }, mac);
        self.emit(Event::LocalNeighAdded { vni, ip, mac });
    }

    pub fn set_topology(&mut self, topology: Topology) {
        self.state.topology = topology.clone();
        self.emit(Event::Topology(topology));
    }

    /// Delivers any event (e.g. `Resync`) to subscribers.
    pub fn inject(&mut self, ev: Event) {
        self.emit(ev);
    }

    fn apply_one(&mut self, op: &Op) -> Result<(), FibError> {
        let vni = op.vni();
        let binding = self
            .state
            .topology
            .binding(vni)
            .ok_or(FibError::UnknownVni(vni))?;
        if self.broken_vnis.contains(&vni) {
            return Err(FibError::NoDevice);
        }
        let s = &mut self.state;
        match *op {
            Op::FdbReplace { key, dest } => {
                // A replace with NTF_EXT_LEARNED takes a foreign row over.
                s.foreign.fdb.remove(&key);
                s.owned.fdb.insert(key, dest);
            }
            Op::FloodAppend { vni, vtep } => {
                if s.owned.flood.contains(&(vni, vtep)) || s.foreign.flood.contains(&(vni, vtep)) {
                    return Err(FibError::Exists);
                }
                s.owned.flood.insert((vni, vtep));
            }
            Op::NeighReplace { key, mac } => {
                binding.bridge.ok_or(FibError::NoSvi(vni))?;
                s.foreign.neigh.remove(&key);
                s.owned.neigh.insert(key, mac);
            }
            Op::NeighDelete { key } => {
                s.owned.neigh.remove(&key).ok_or(FibError::NotFound)?;
            }
            Op::FdbDelete { key, vtep } => match s.owned.fdb.get(&key) {
                Some(d) if d.vtep == vtep => {
                    s.owned.fdb.remove(&key);
                }
                _ => return Err(FibError::NotFound),
            },
            Op::FloodDelete { vni, vtep } => {
                if !s.owned.flood.remove(&(vni, vtep)) {
                    return Err(FibError::NotFound);
                }
            }
        }
        Ok(())
    }
}

impl Dataplane for MemoryDataplane {
    fn dump(&mut self) -> Result<Snapshot, FibError> {
        self.counters.dumps += 1;
        Ok(self.state.clone())
    }

    fn apply(&mut self, plan: &Plan) -> ApplyReport {
        let start = Instant::now();
        let mut report = ApplyReport::default();
        for (index, op) in plan.ops.iter().enumerate() {
            match self.apply_one(op) {
                Ok(()) => report.applied += 1,
                Err(error) => report.errors.push(OpError {
                    index,
                    op: *op,
                    error,
                }),
            }
        }
        report.sends = u64::from(!plan.ops.is_empty());
        report.duration = start.elapsed();
        self.counters.ops_applied += report.applied as u64;
        self.counters.op_errors += report.errors.len() as u64;
        self.counters.batches += report.sends;
        self.counters.messages += plan.ops.len() as u64;
        self.counters.last_apply = report.duration;
        report
    }

    fn subscribe(&mut self) -> Result<EventReceiver, FibError> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        self.subscribers.push(tx);
        Ok(rx)
    }

    fn counters(&self) -> Counters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::reconcile::diff;
    use std::net::Ipv4Addr;

    fn topo() -> Topology {
        crate::testutil::br100_vxlan100()
    }

    fn vtep(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[test]
    fn reconcile_converges_and_is_idempotent() {
        let mut dp = MemoryDataplane::new(topo());
        let mut want = FibState::default();
        want.fdb.insert(
            FdbKey {
                vni: Vni(100),
                mac: Mac([2, 0, 0, 0, 0, 1]),
            },
            RemoteFdb {
                vtep: vtep(2),
                sticky: false,
            },
        );
        want.flood.insert((Vni(100), vtep(2)));
        want.flood.insert((Vni(300), vtep(2)));
        let plan = diff(&want, &dp.dump().unwrap());
        assert_eq!(plan.skipped.unknown_vni, 1);
        let r = dp.apply(&plan);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(r.applied, 2);
        let snap = dp.dump().unwrap();
        assert_eq!(snap.owned.fdb, want.fdb);
        assert!(diff(&want, &snap).is_empty());
        assert_eq!(dp.counters().ops_applied, 2);
    }

    #[test]
    fn errors_are_per_op() {
        let mut dp = MemoryDataplane::new(topo());
        let plan = Plan {
            ops: vec![
                Op::FloodAppend {
                    vni: Vni(100),
                    vtep: vtep(2),
                },
                Op::FloodAppend {
                    vni: Vni(100),
                    vtep: vtep(2),
                },
                Op::FloodDelete {
                    vni: Vni(100),
                    vtep: vtep(9),
                },
                Op::FloodAppend {
                    vni: Vni(300),
                    vtep: vtep(2),
                },
                Op::FloodAppend {
                    vni: Vni(100),
                    vtep: vtep(3),
                },
            ],
            ..Default::default()
        };
        let r = dp.apply(&plan);
        assert_eq!(r.applied, 2);
        let errs: Vec<(usize, String)> = r
            .errors
            .iter()
            .map(|e| (e.index, e.error.to_string()))
            .collect();
        assert_eq!(
            errs,
            [
                (1, FibError::Exists.to_string()),
                (2, FibError::NotFound.to_string()),
                (3, FibError::UnknownVni(Vni(300)).to_string())
            ]
        );
    }

    #[test]
    fn events_reach_subscribers_and_overflow_becomes_resync() {
        let mut dp = MemoryDataplane::new(topo());
        let mut rx = dp.subscribe().unwrap();
        let mac = Mac([2, 0, 0, 0, 0, 7]);
        dp.learn_local(Vni(100), mac, 5);
        assert_eq!(
            rx.try_recv().unwrap(),
            Event::LocalMacAdded {
                vni: Vni(100),
                mac,
                port: 5,
                sticky: false
            }
        );
        for _ in 0..EVENT_QUEUE + 10 {
            dp.inject(Event::OwnedRemoved(crate::dataplane::OwnedEntry::Flood {
                vni: Vni(100),
                vtep: vtep(1),
            }));
        }
        while rx.try_recv().is_ok() {}
        dp.age_local(Vni(100), mac);
        assert_eq!(rx.try_recv().unwrap(), Event::Resync);
        assert_eq!(
            rx.try_recv().unwrap(),
            Event::LocalMacRemoved { vni: Vni(100), mac }
        );
    }
}
