//! `up`, `down`, `exec`, `status` and `wait` on one lab.
//!
//! `up`: check everything first (tools, configs, foreign namespaces), then namespaces ->
//! links -> `exec` commands (node order, then file order) -> daemons. Any failure tears down
//! what was recorded and returns the error. `down` works from the state file alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::daemons::{self, DaemonStatus};
use crate::error::{Error, Result};
use crate::state::{DaemonRecord, LabDir, LinkRecord, NsRecord, Phase, State};
use crate::sys;
use crate::topology::{Role, Topology};

/// Simulates a crash (exit without cleanup) after the named phase, for tests of recovery:
/// `EVPNLAB_CRASH_AFTER=namespaces|links|exec|daemons`.
fn crash_point(phase: &str) {
    if std::env::var("EVPNLAB_CRASH_AFTER").as_deref() == Ok(phase) {
        eprintln!("evpnlab: EVPNLAB_CRASH_AFTER={phase}: exiting without cleanup");
        std::process::exit(86);
    }
}

/// Default limit for each of a node's `exec` commands.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the lab. State left by a run that died half-way is cleaned up first; a lab that is
/// fully up is only rebuilt with `reconfigure` (like containerlab's `--reconfigure`). Each
/// `exec` command that runs longer than `exec_timeout` is killed and fails `up`.
pub fn up(topo: &Topology, reconfigure: bool, exec_timeout: Duration) -> Result<()> {
    let dir = LabDir::new(&topo.name);
    let _lock = dir.lock(&topo.name)?;
    if let Some(old) = dir.load()? {
        if old.phase == Phase::Up && !reconfigure {
            return Err(Error::Other(format!(
                "lab {} is already up; `evpnlab down` it first, or pass --reconfigure to \
                 rebuild it",
                topo.name
            )));
        }
        eprintln!(
            "evpnlab: lab {} has state from an earlier run (phase {:?}); cleaning that up first",
            topo.name, old.phase
        );
        teardown(&dir, &old)?;
    }
    preflight(topo)?;

    let mut state = State::new(&topo.name, &topo.file);
    dir.save(&state)?;
    match build(topo, &dir, &mut state, exec_timeout) {
        Ok(()) => {
            state.phase = Phase::Up;
            dir.save(&state)
        }
        Err(e) => {
            eprintln!("evpnlab: up failed: {e}");
            eprintln!("evpnlab: removing what this run created");
            if let Err(te) = teardown(&dir, &state) {
                eprintln!("evpnlab: cleanup after failure also failed: {te}");
            }
            Err(e)
        }
    }
}

/// Everything that can be checked before creating anything.
fn preflight(topo: &Topology) -> Result<()> {
    if sys::which("ip").is_none() {
        return Err(Error::Other("`ip` (iproute2) not found on PATH".into()));
    }
    if topo.nodes.iter().any(|n| n.role == Role::Frr) {
        daemons::check_frr()?;
    }
    if topo.nodes.iter().any(|n| n.role == Role::Evpnd) {
        daemons::evpnd_bin()?;
    }
    for n in &topo.nodes {
        let ns = topo.namespace(&n.name);
        if sys::netns_inode(&ns).is_some() {
            return Err(Error::Refused(format!(
                "namespace {ns} (node {}) already exists and was not created by this evpnlab \
                 lab; remove it yourself (`ip netns del {ns}`) or pick another lab name",
                n.name
            )));
        }
    }
    Ok(())
}

fn build(topo: &Topology, dir: &LabDir, state: &mut State, exec_timeout: Duration) -> Result<()> {
    for n in &topo.nodes {
        let ns = topo.namespace(&n.name);
        // Recorded before creation: a crash right after `ip netns add` still leaves a trace.
        state.namespaces.push(NsRecord {
            node: n.name.clone(),
            name: ns.clone(),
            role: n.role,
            cookie: None,
        });
        dir.save(state)?;
        let cookie = sys::netns_add(&ns)?;
        if let Some(r) = state.namespaces.last_mut() {
            r.cookie = Some(cookie);
        }
        dir.save(state)?;
        sys::run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
        let nd = dir.node_dir(&n.name);
        std::fs::create_dir_all(&nd).map_err(|e| Error::io(&nd, e))?;
    }
    crash_point("namespaces");

    for l in &topo.links {
        state.links.push(LinkRecord {
            a: l.a.clone(),
            b: l.b.clone(),
        });
        dir.save(state)?;
        sys::veth_add(
            &topo.namespace(&l.a.node),
            &l.a.iface,
            &topo.namespace(&l.b.node),
            &l.b.iface,
        )?;
    }
    crash_point("links");

    for n in &topo.nodes {
        let ns = topo.namespace(&n.name);
        let nd = dir.node_dir(&n.name);
        for cmd in &n.exec {
            sys::run_timeout(
                "ip",
                &["netns", "exec", &ns, "sh", "-c", cmd],
                &n.env,
                exec_timeout,
                &nd,
            )
            .map_err(|e| Error::Other(format!("node {}: exec `{cmd}` failed: {e}", n.name)))?;
        }
    }
    crash_point("exec");

    for n in &topo.nodes {
        let ns = topo.namespace(&n.name);
        let nd = dir.node_dir(&n.name);
        let mut record = |r: DaemonRecord| {
            state.daemons.push(r);
            dir.save(state)
        };
        match n.role {
            Role::Host => {}
            Role::Frr => {
                let cfg = n.frr_config().ok_or_else(|| {
                    Error::Other(format!("node {}: no /etc/frr/frr.conf bind", n.name))
                })?;
                daemons::start_frr(&n.name, &ns, &cfg, &nd, &n.env, &mut record)?;
            }
            Role::Evpnd => {
                let cfg = n.evpnd_config().ok_or_else(|| {
                    Error::Other(format!("node {}: no evpnd config bind", n.name))
                })?;
                let bin = daemons::evpnd_bin()?;
                daemons::start_evpnd(&n.name, &ns, &cfg, &nd, &n.env, &bin, &mut record)?;
            }
        }
    }
    crash_point("daemons");
    Ok(())
}

/// Stops what `state` lists and removes it; skips (and reports) any namespace whose cookie
/// is not the one recorded, because then it is not the one this runner made.
fn teardown(dir: &LabDir, state: &State) -> Result<()> {
    let mut problems = Vec::new();

    // Daemons first, so they exit cleanly while their interfaces still exist.
    let mut pids = Vec::new();
    for d in &state.daemons {
        let inode = state.namespace(&d.node).and_then(NsRecord::owned_inode);
        if let Some(pid) = daemons::running_pid(d, inode) {
            pids.push(pid);
        }
    }
    sys::terminate(&pids, Duration::from_secs(3));

    for r in &state.namespaces {
        if sys::netns_inode(&r.name).is_none() {
            continue;
        }
        let Some(inode) = r.owned_inode() else {
            eprintln!(
                "evpnlab: namespace {} is not the one evpnlab created (replaced); left alone",
                r.name
            );
            continue;
        };
        // Whatever else runs in our namespace (a ping from `exec`, a shell) goes with it.
        sys::terminate(&sys::pids_in_netns(inode), Duration::from_secs(2));
        for l in &state.links {
            for ep in [&l.a, &l.b] {
                if ep.node == r.node {
                    // Deleting one end removes the pair; the other end may already be gone.
                    let _ = sys::run("ip", &["-n", &r.name, "link", "del", &ep.iface]);
                }
            }
        }
        if let Err(e) = sys::netns_del(&r.name) {
            problems.push(format!("deleting namespace {}: {e}", r.name));
        }
    }
    dir.remove()?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Other(problems.join("; ")))
    }
}

pub fn down(lab: &str) -> Result<bool> {
    let dir = LabDir::new(lab);
    let _lock = dir.lock(lab)?;
    let Some(state) = dir.load()? else {
        return Ok(false);
    };
    teardown(&dir, &state)?;
    Ok(true)
}

fn load_up(lab: &str) -> Result<(LabDir, State)> {
    let dir = LabDir::new(lab);
    match dir.load()? {
        Some(s) => Ok((dir, s)),
        None => Err(Error::NotUp(lab.to_string())),
    }
}

/// Runs `argv` in the node's namespace with the node's env and inherited stdio; returns its
/// exit code. On FRR nodes `vtysh` is pointed at the node's own vty sockets.
pub fn exec(topo: &Topology, node: &str, argv: &[String]) -> Result<i32> {
    let (dir, state) = load_up(&topo.name)?;
    let n = topo
        .node(node)
        .ok_or_else(|| Error::Other(format!("no node `{node}` in {}", topo.file.display())))?;
    let rec = state
        .namespace(node)
        .ok_or_else(|| Error::Other(format!("node {node} has no namespace in this lab")))?;
    if rec.owned_inode().is_none() {
        return Err(Error::Refused(format!(
            "namespace {} is missing or not the one evpnlab created",
            rec.name
        )));
    }
    let Some((prog, rest)) = argv.split_first() else {
        return Err(Error::Other("no command given after `--`".into()));
    };
    let mut args: Vec<String> = vec!["netns".into(), "exec".into(), rec.name.clone()];
    args.push(prog.clone());
    let is = |name: &str| Path::new(prog).file_name().is_some_and(|f| f == name);
    if n.role == Role::Frr && is("vtysh") {
        args.push("--vty_socket".into());
        args.push(dir.node_dir(node).display().to_string());
    }
    // Likewise evpnctl and the node's evpnd (each has its own socket, see start_evpnd),
    // unless the caller names one.
    if n.role == Role::Evpnd && is("evpnctl") && !rest.iter().any(|a| a.starts_with("--socket")) {
        args.push("--socket".into());
        let sock = daemons::evpnd_socket(&dir.node_dir(node), &n.env);
        args.push(sock.display().to_string());
    }
    args.extend(rest.iter().cloned());
    let status = Command::new("ip")
        .args(&args)
        .envs(&n.env)
        .status()
        .map_err(|e| Error::Other(format!("running ip netns exec: {e}")))?;
    Ok(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    }))
}

#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub role: Role,
    pub image: String,
    pub namespace: String,
    /// The namespace exists and is the one evpnlab created.
    pub namespace_ok: bool,
    pub daemons: Vec<DaemonStatus>,
    /// Namespace ok and every daemon running.
    pub up: bool,
}

#[derive(Debug, Serialize)]
pub struct LinkStatus {
    pub a: String,
    pub b: String,
    pub present: bool,
    pub oper_up: bool,
}

#[derive(Debug, Serialize)]
pub struct LabStatus {
    pub lab: String,
    pub topology: String,
    /// "up", "creating" (or crashed while creating), or "down" (no state).
    pub phase: String,
    pub nodes: Vec<NodeStatus>,
    pub links: Vec<LinkStatus>,
    pub all_up: bool,
}

pub fn status(topo: &Topology) -> Result<LabStatus> {
    let dir = LabDir::new(&topo.name);
    let state = dir.load()?;
    let mut nodes = Vec::new();
    for n in &topo.nodes {
        let ns = topo.namespace(&n.name);
        let rec = state.as_ref().and_then(|s| s.namespace(&n.name));
        let inode = rec.and_then(NsRecord::owned_inode);
        let namespace_ok = inode.is_some();
        let daemons: Vec<DaemonStatus> = state
            .iter()
            .flat_map(|s| s.daemons.iter())
            .filter(|d| d.node == n.name)
            .map(|d| daemons::status(d, inode))
            .collect();
        let expected = match n.role {
            Role::Host => 0,
            Role::Frr => 2,
            Role::Evpnd => 1,
        };
        let up = namespace_ok && daemons.len() == expected && daemons.iter().all(|d| d.running);
        nodes.push(NodeStatus {
            name: n.name.clone(),
            role: n.role,
            image: n.image.clone(),
            namespace: ns,
            namespace_ok,
            daemons,
            up,
        });
    }
    let ok: BTreeMap<&str, bool> = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.namespace_ok))
        .collect();
    let links: Vec<LinkStatus> = topo
        .links
        .iter()
        .map(|l| {
            let show = |ep: &crate::topology::Endpoint| {
                if ok.get(ep.node.as_str()).copied().unwrap_or(false) {
                    sys::link_show(&topo.namespace(&ep.node), &ep.iface)
                } else {
                    None
                }
            };
            let (a, b) = (show(&l.a), show(&l.b));
            let is_up = |v: &Option<serde_json::Value>| {
                v.as_ref()
                    .and_then(|v| v.get("operstate"))
                    .and_then(|s| s.as_str())
                    == Some("UP")
            };
            LinkStatus {
                a: l.a.to_string(),
                b: l.b.to_string(),
                present: a.is_some() && b.is_some(),
                oper_up: is_up(&a) && is_up(&b),
            }
        })
        .collect();
    let phase = match state.as_ref().map(|s| s.phase) {
        Some(Phase::Up) => "up",
        Some(Phase::Creating) => "creating",
        None => "down",
    };
    let all_up = phase == "up" && nodes.iter().all(|n| n.up) && links.iter().all(|l| l.oper_up);
    Ok(LabStatus {
        lab: topo.name.clone(),
        topology: topo.file.display().to_string(),
        phase: phase.into(),
        nodes,
        links,
        all_up,
    })
}

pub fn print_status(s: &LabStatus) {
    println!("lab {} ({}): {}", s.lab, s.phase, s.topology);
    println!(
        "{:<10} {:<6} {:<28} {:<5} DAEMONS",
        "NODE", "ROLE", "NAMESPACE", "UP"
    );
    for n in &s.nodes {
        let d = if n.daemons.is_empty() {
            "-".to_string()
        } else {
            n.daemons
                .iter()
                .map(|d| match (d.running, d.pid) {
                    (true, Some(p)) => format!("{}:running({p})", d.name),
                    _ => format!("{}:dead", d.name),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "{:<10} {:<6} {:<28} {:<5} {d}",
            n.name,
            n.role.as_str(),
            n.namespace,
            if n.up { "yes" } else { "no" }
        );
    }
    println!("LINKS");
    for l in &s.links {
        let st = match (l.present, l.oper_up) {
            (true, true) => "up",
            (true, false) => "down",
            _ => "missing",
        };
        println!("  {:<14} <-> {:<14} {st}", l.a, l.b);
    }
}

/// Peers of one FRR node as (address, state), from `show bgp neighbors json`.
fn bgp_peers(dir: &LabDir, node: &str) -> Result<Vec<(String, String)>> {
    let out = Command::new("vtysh")
        .arg("--vty_socket")
        .arg(dir.node_dir(node))
        .args(["-c", "show bgp neighbors json"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::Other(format!("running vtysh: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Other(format!("node {node}: vtysh json: {e}")))?;
    let mut peers = Vec::new();
    if let Some(obj) = v.as_object() {
        for (addr, p) in obj {
            if let Some(st) = p.get("bgpState").and_then(|s| s.as_str()) {
                peers.push((addr.clone(), st.to_string()));
            }
        }
    }
    Ok(peers)
}

/// Peers of one evpnd node as (address, state), from `evpnctl show peers -j`.
fn evpnd_peers(evpnctl: &Path, socket: &Path, node: &str) -> Result<Vec<(String, String)>> {
    let out = Command::new(evpnctl)
        .arg("--socket")
        .arg(socket)
        .args(["show", "peers", "-j"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::Other(format!("running {}: {e}", evpnctl.display())))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "{node}: evpnd does not answer on {} ({})",
            socket.display(),
            out.status
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Other(format!("node {node}: evpnctl json: {e}")))?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("address")?.as_str()?.to_string(),
                p.get("state")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

/// Waits until every FRR and evpnd node has at least `min_peers` BGP peers and all of them
/// are Established.
pub fn wait_bgp(topo: &Topology, min_peers: usize, timeout: Duration) -> Result<Duration> {
    let (dir, state) = load_up(&topo.name)?;
    // evpnd nodes are asked with the evpnctl that goes with the evpnd the lab runs.
    let mut evpnd_nodes = Vec::new();
    for n in topo.nodes.iter().filter(|n| n.role == Role::Evpnd) {
        let rec = state
            .daemons
            .iter()
            .find(|d| d.node == n.name && d.name == "evpnd")
            .ok_or_else(|| Error::Other(format!("node {}: no evpnd in the lab state", n.name)))?;
        let evpnctl = daemons::evpnctl_bin(&rec.program).ok_or_else(|| {
            Error::Daemon(format!(
                "evpnctl not found next to {} nor on PATH (cargo build -p evpnd)",
                rec.program.display()
            ))
        })?;
        let socket = daemons::evpnd_socket(&dir.node_dir(&n.name), &n.env);
        evpnd_nodes.push((n.name.as_str(), evpnctl, socket));
    }
    let start = Instant::now();
    loop {
        let mut pending = Vec::new();
        let mut check = |node: &str, peers: Result<Vec<(String, String)>>| match peers {
            Ok(peers) => {
                if peers.len() < min_peers.max(1) {
                    pending.push(format!("{node}: {} peer(s) configured", peers.len()));
                }
                for (a, s) in peers.iter().filter(|(_, s)| s != "Established") {
                    pending.push(format!("{node}: {a} {s}"));
                }
            }
            Err(e) => pending.push(e.to_string()),
        };
        for n in topo.nodes.iter().filter(|n| n.role == Role::Frr) {
            check(&n.name, bgp_peers(&dir, &n.name));
        }
        for (node, evpnctl, socket) in &evpnd_nodes {
            check(node, evpnd_peers(evpnctl, socket, node));
        }
        if pending.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                secs: timeout.as_secs(),
                what: format!("BGP not established: {}", pending.join(", ")),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
