//! The fib task: a thread of its own owning `fib::Reconciler<NetlinkDataplane>` (every
//! netlink call blocks, so it stays off the tokio workers). It runs a current-thread
//! runtime only to wait on two queues at once: commands from the core (desired-state
//! deltas, show requests, shutdown) and the kernel's events.
//!
//! ```text
//!  core ──FibCmd (Delta / ShowFdb / Shutdown)──> fib thread ── sync ──> kernel
//!  core <──FibMsg (Snapshot / Event), bounded──  fib thread <── events ── kernel
//! ```
//!
//! Deltas are folded into the desired state at once; the kernel is synced at most every
//! [`COALESCE`] while changes keep arriving, so a burst of routes costs one diff and a
//! few netlink batches. When a previous run left entries in the kernel, no sync runs until
//! the core sends [`FibCmd::Release`] (our graceful restart is over: every GR peer sent
//! End-of-RIB, or the restart time ran out, see `restart.rs`): the entries stay while the
//! sessions bring their routes back, then one diff removes only the stale ones, instead of
//! flapping every remote MAC at start.

use std::time::Duration;

use fib::netlink::socket::{Answer, RequestSocket};
use fib::{Dataplane, Event, FdbKey, FibState, NetlinkDataplane, Reconciler, Snapshot};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

/// Longest wait between a desired-state change and the kernel sync.
pub const COALESCE: Duration = Duration::from_millis(5);
/// Capacity of the fib -> core channel.
pub const FIB_EVENTS: usize = 1024;
/// Wait before retrying a failed sync.
pub const RETRY: Duration = Duration::from_secs(1);
/// While changes keep coming, the next sync waits until this many times the last one's
/// planning time has passed since it ended. Planning is a full diff of the desired state
/// against the kernel view, O(entries): at a million entries tens of milliseconds, so
/// re-planning every [`COALESCE`] during a burst would spend this thread (and the core a
/// route import needs) on diffs. After a quiet spell that time is long past, so a single
/// change still reaches the kernel after [`COALESCE`].
pub const PLAN_BACKOFF: u32 = 4;

/// What the core asks of the fib thread.
#[derive(Debug)]
pub enum FibCmd {
    Delta(evpn::FibDelta),
    ShowFdb(oneshot::Sender<FdbView>),
    /// Counters and programmed-entry counts for the metrics endpoint.
    Metrics(oneshot::Sender<crate::metrics::FibMetrics>),
    /// A local MAC moved to another VTEP (MAC mobility): delete the bridge's learned
    /// entry so that the remote one can be installed (local wins while it exists).
    DeleteLocalMac(FdbKey),
    /// Our restart is over: sync the kernel (until then entries of a previous run are
    /// kept and desired-state changes only accumulate).
    Release,
    /// Stop; with `remove`, delete every entry we own first.
    Shutdown {
        remove: bool,
        done: oneshot::Sender<()>,
    },
}

/// What the fib thread tells the core.
#[derive(Debug)]
pub enum FibMsg {
    /// A fresh dump (at start and after a Resync): topology and local state.
    Snapshot(Box<Snapshot>),
    Event(Event),
    /// The thread could not start (no netlink socket): the daemon runs without a FIB.
    Failed(String),
}

/// The kernel as the reconciler sees it, against the desired state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FdbView {
    /// Entries evpnd owns in the kernel (cached view; `None` before the first sync).
    pub programmed: Option<FibState>,
    pub desired: FibState,
    pub syncs: u64,
    pub dumps: u64,
    pub resyncs: u64,
}

pub struct FibHandle {
    pub cmd: mpsc::UnboundedSender<FibCmd>,
    pub msgs: mpsc::Receiver<FibMsg>,
}

/// Starts the fib thread.
pub fn spawn() -> std::io::Result<FibHandle> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (msg_tx, msg_rx) = mpsc::channel(FIB_EVENTS);
    std::thread::Builder::new()
        .name("evpnd-fib".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = msg_tx.blocking_send(FibMsg::Failed(format!("runtime: {e}")));
                    return;
                }
            };
            rt.block_on(run(cmd_rx, msg_tx));
        })?;
    Ok(FibHandle {
        cmd: cmd_tx,
        msgs: msg_rx,
    })
}

async fn run(mut cmds: mpsc::UnboundedReceiver<FibCmd>, msgs: mpsc::Sender<FibMsg>) {
    let dp = match NetlinkDataplane::new() {
        Ok(d) => d,
        Err(e) => {
            let _ = msgs.send(FibMsg::Failed(format!("netlink: {e}"))).await;
            return;
        }
    };
    let mut rec = Reconciler::new(dp);
    // Subscribe before the dump so no event falls in between.
    let mut events = match rec.subscribe() {
        Ok(rx) => rx,
        Err(e) => {
            let _ = msgs
                .send(FibMsg::Failed(format!("netlink monitor: {e}")))
                .await;
            return;
        }
    };
    // Entries of a previous run in the kernel: held until the core's Release.
    let mut held;
    match rec.dataplane_mut().dump() {
        Ok(s) => {
            held = has_owned(&s);
            info!(
                bridges = s.topology.bridges.len(),
                vxlans = s.topology.vxlans.len(),
                local_macs = s.local.macs.len(),
                owned_fdb = s.owned.fdb.len(),
                owned_flood = s.owned.flood.len(),
                "FIB: kernel dumped"
            );
            if msgs.send(FibMsg::Snapshot(Box::new(s))).await.is_err() {
                return;
            }
        }
        Err(e) => {
            let _ = msgs.send(FibMsg::Failed(format!("dump: {e}"))).await;
            return;
        }
    }
    if held {
        info!("FIB: entries of a previous run kept until the graceful restart is over");
    }
    let mut due: Option<Instant> = (!held).then(Instant::now);
    // The earliest next sync (see PLAN_BACKOFF).
    let mut not_before = Instant::now();
    loop {
        tokio::select! {
            _ = async {
                match due {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {
                let started = Instant::now();
                let (ok, applying) = sync(&mut rec);
                let planning = started.elapsed().saturating_sub(applying);
                not_before = Instant::now() + planning * PLAN_BACKOFF;
                // A failed sync (or ops left in doubt) is retried shortly.
                due = (!ok).then(|| Instant::now() + RETRY);
            }
            cmd = cmds.recv() => match cmd {
                Some(FibCmd::Delta(d)) => {
                    d.apply(rec.desired_mut());
                    if !held {
                        let t = sync_at(Instant::now(), not_before);
                        due = Some(due.map_or(t, |d| d.min(t)));
                    }
                }
                Some(FibCmd::Release) => {
                    if held {
                        info!("FIB: graceful restart over: syncing the kernel");
                        held = false;
                        due = Some(Instant::now());
                    }
                }
                Some(FibCmd::DeleteLocalMac(key)) => delete_local(&rec, key),
                Some(FibCmd::Metrics(tx)) => {
                    let c = rec.counters();
                    let d = rec.dataplane().counters();
                    let owned = rec.view().map(|v| &v.owned);
                    let _ = tx.send(crate::metrics::FibMetrics {
                        fdb: owned.map_or(0, |o| o.fdb.len() as u64),
                        flood: owned.map_or(0, |o| o.flood.len() as u64),
                        neigh: owned.map_or(0, |o| o.neigh.len() as u64),
                        ops_applied: d.ops_applied,
                        op_errors: d.op_errors,
                        batches: d.batches,
                        syncs: c.syncs,
                        resyncs: c.resyncs,
                        last_apply: d.last_apply,
                    });
                }
                Some(FibCmd::ShowFdb(tx)) => {
                    let c = rec.counters();
                    let _ = tx.send(FdbView {
                        programmed: rec.view().map(|v| v.owned.clone()),
                        desired: rec.desired().clone(),
                        syncs: c.syncs,
                        dumps: c.dumps,
                        resyncs: c.resyncs,
                    });
                }
                Some(FibCmd::Shutdown { remove, done }) => {
                    if remove {
                        rec.set_desired(FibState::default());
                        match rec.sync() {
                            Ok(r) => info!(removed = r.apply.applied, errors = r.apply.errors.len(), "FIB: our entries removed"),
                            Err(e) => error!(error = %e, "FIB: removing our entries failed"),
                        }
                    } else {
                        info!("FIB: entries kept for the next start");
                    }
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
            ev = events.recv() => {
                let Some(ev) = ev else {
                    error!("FIB: the kernel event stream ended");
                    let _ = msgs.send(FibMsg::Failed("event stream ended".into())).await;
                    return;
                };
                // A bridge port deleted with MACs on it: the kernel's flush of its FDB
                // rows does not reach us as deletes (the port is gone first), so the
                // cached local MACs would linger and win over remote routes: re-dump.
                let port_gone = matches!(&ev, Event::Topology(t) if rec.view().is_some_and(|v| {
                    v.local.macs.values().any(|m| !t.ports.contains_key(&m.port))
                }));
                if port_gone {
                    rec.handle(&Event::Resync);
                }
                let resync = port_gone || matches!(ev, Event::Resync);
                if (rec.handle(&ev) || port_gone) && !held {
                    let t = sync_at(Instant::now(), not_before);
                    due = Some(due.map_or(t, |d| d.min(t)));
                }
                if resync {
                    if port_gone {
                        info!("FIB: a bridge port with local MACs is gone: dump and reconcile");
                    } else {
                        warn!("FIB: kernel events lost: dump and reconcile");
                    }
                    // The service's local state is rebuilt from the fresh dump.
                    match rec.dataplane_mut().dump() {
                        Ok(s) => {
                            if msgs.send(FibMsg::Snapshot(Box::new(s))).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => error!(error = %e, "FIB: dump after resync failed"),
                    }
                } else if msgs.send(FibMsg::Event(ev)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// When a change seen at `now` is synced: after [`COALESCE`], and not before `not_before`
/// (the last sync's end plus [`PLAN_BACKOFF`] times its planning).
fn sync_at(now: Instant, not_before: Instant) -> Instant {
    (now + COALESCE).max(not_before)
}

/// A previous run left entries of ours in the kernel (kept on shutdown, or a crash).
pub fn has_owned(s: &Snapshot) -> bool {
    !(s.owned.fdb.is_empty() && s.owned.flood.is_empty() && s.owned.neigh.is_empty())
}

/// Deletes the bridge's entry for a local MAC (RTM_DELNEIGH AF_BRIDGE NTF_MASTER on its
/// port); the kernel's delete event then tells the service it is gone.
fn delete_local(rec: &Reconciler<NetlinkDataplane>, key: FdbKey) {
    let Some(port) = rec
        .view()
        .and_then(|v| v.local.macs.get(&key))
        .map(|m| m.port)
    else {
        debug!(vni = %key.vni, mac = %key.mac, "FIB: moved MAC no longer local");
        return;
    };
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = port;
    m.header.flags = NeighbourFlags::Controller;
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(key.mac.0.to_vec()));
    let r = RequestSocket::open(None).and_then(|mut s| {
        s.push(0, RouteNetlinkMessage::DelNeighbour(m));
        s.flush()
    });
    match r.as_deref() {
        Ok([Answer::Ok]) => {
            info!(vni = %key.vni, mac = %key.mac, port, "FIB: local MAC moved away: bridge entry deleted")
        }
        Ok(a) => {
            warn!(vni = %key.vni, mac = %key.mac, answer = ?a, "FIB: deleting the moved local MAC failed")
        }
        Err(e) => {
            warn!(vni = %key.vni, mac = %key.mac, error = %e, "FIB: deleting the moved local MAC failed")
        }
    }
}

/// Syncs the kernel; false when something failed and a retry is due. Also returns the
/// time spent applying (netlink), the rest of the sync being planning.
fn sync(rec: &mut Reconciler<NetlinkDataplane>) -> (bool, Duration) {
    match rec.sync() {
        Ok(r) => {
            if r.planned > 0 || r.dumped {
                debug!(
                    dumped = r.dumped,
                    planned = r.planned,
                    applied = r.apply.applied,
                    errors = r.apply.errors.len(),
                    took_us = r.apply.duration.as_micros() as u64,
                    "FIB: synced"
                );
            }
            for e in &r.apply.errors {
                warn!(op = ?e.op, error = %e.error, "FIB: operation failed");
            }
            // Errors other than "already there / not there" leave the view in doubt.
            (rec.view().is_some(), r.apply.duration)
        }
        Err(e) => {
            error!(error = %e, "FIB: sync failed; retrying");
            (false, Duration::ZERO)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_waits_out_the_backoff_only_during_a_burst() {
        let now = Instant::now();
        // Quiet: the last sync's backoff ended long ago.
        assert_eq!(sync_at(now, now - Duration::from_secs(1)), now + COALESCE);
        // Burst: the last sync planned for 20 ms and ended just now.
        let not_before = now + Duration::from_millis(20) * PLAN_BACKOFF;
        assert_eq!(sync_at(now, not_before), not_before);
        assert!(sync_at(now, not_before) > now + COALESCE);
    }
}
