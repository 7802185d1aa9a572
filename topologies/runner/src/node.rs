//! `stop` and `start` of one node's evpnd while the rest of the lab stays up: for tests and
//! demos of a restart or a crash. Same safety rules as `down`: only a pid that runs the
//! recorded program inside the namespace this runner created is ever signalled, and `start`
//! runs the very program `up` started (the state file's record), with the node's config and
//! env, writing the same pid file, so `status` and `down` keep seeing it.

use std::time::{Duration, Instant};

use crate::daemons;
use crate::error::{Error, Result};
use crate::state::{DaemonRecord, LabDir, Phase, State};
use crate::sys;
use crate::topology::{Role, Topology};

/// How `stop` ends the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM (a clean shutdown), SIGKILL after `TERM_GRACE`.
    Term,
    /// SIGKILL right away: a crash, nothing cleaned up by the daemon.
    Kill,
}

/// How long a SIGTERMed daemon gets to shut down cleanly before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(10);

/// The lab (up), its lock, and the node's evpnd record with its namespace's name and inode.
struct Target {
    _lock: crate::state::LabLock,
    dir: LabDir,
    rec: DaemonRecord,
    ns: String,
    inode: u64,
}

fn target(topo: &Topology, node: &str) -> Result<Target> {
    let n = topo
        .node(node)
        .ok_or_else(|| Error::Other(format!("no node `{node}` in {}", topo.file.display())))?;
    if n.role != Role::Evpnd {
        return Err(Error::Other(format!(
            "node {node} is a {} node; stop/start handle evpnd nodes only",
            n.role.as_str()
        )));
    }
    let dir = LabDir::new(&topo.name);
    let lock = dir.lock(&topo.name)?;
    let state: State = dir
        .load()?
        .filter(|s| s.phase == Phase::Up)
        .ok_or_else(|| Error::NotUp(topo.name.clone()))?;
    let ns = state
        .namespace(node)
        .ok_or_else(|| Error::Other(format!("node {node} has no namespace in this lab")))?;
    let inode = ns.owned_inode().ok_or_else(|| {
        Error::Refused(format!(
            "namespace {} is missing or not the one evpnlab created",
            ns.name
        ))
    })?;
    let ns = ns.name.clone();
    let rec = state
        .daemons
        .iter()
        .find(|d| d.node == node && d.name == "evpnd")
        .cloned()
        .ok_or_else(|| Error::Other(format!("node {node}: no evpnd in the lab state")))?;
    Ok(Target {
        _lock: lock,
        dir,
        rec,
        ns,
        inode,
    })
}

/// Stops the node's evpnd; returns its pid. Fails if it is not running.
pub fn stop(topo: &Topology, node: &str, how: Stop) -> Result<i32> {
    let t = target(topo, node)?;
    let pid = daemons::running_pid(&t.rec, Some(t.inode))
        .ok_or_else(|| Error::Daemon(format!("evpnd of node {node} is not running")))?;
    match how {
        Stop::Term => sys::terminate(&[pid], TERM_GRACE),
        Stop::Kill => {
            sys::signal(pid, libc::SIGKILL);
            let start = Instant::now();
            while sys::pid_running(pid) && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    if sys::pid_running(pid) {
        return Err(Error::Daemon(format!(
            "evpnd of node {node} (pid {pid}) did not exit"
        )));
    }
    Ok(pid)
}

/// Starts the node's evpnd again as `up` did; returns its pid. Fails if it is running.
pub fn start(topo: &Topology, node: &str) -> Result<i32> {
    let t = target(topo, node)?;
    if let Some(pid) = daemons::running_pid(&t.rec, Some(t.inode)) {
        return Err(Error::Daemon(format!(
            "evpnd of node {node} is already running (pid {pid})"
        )));
    }
    let n = topo
        .node(node)
        .ok_or_else(|| Error::Other(format!("no node `{node}`")))?;
    let cfg = n
        .evpnd_config()
        .ok_or_else(|| Error::Other(format!("node {node}: no evpnd config bind")))?;
    let nd = t.dir.node_dir(node);
    // The record is in the state already; nothing new to write down.
    daemons::start_evpnd(node, &t.ns, &cfg, &nd, &n.env, &t.rec.program, &mut |_| {
        Ok(())
    })?;
    daemons::running_pid(&t.rec, Some(t.inode))
        .ok_or_else(|| Error::Daemon(format!("evpnd of node {node} exited right after start")))
}
