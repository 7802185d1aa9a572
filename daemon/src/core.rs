//! The core task: owns the peers (their tasks and settings), the RIB (`rib.rs` around
//! `bgp::rib`) and answers the control API. Every input is a message into this one loop:
//! accepted connections, peer events, control requests, reload, shutdown, and the
//! graceful-restart and minimum-advertisement-interval timers of the RIB.
//!
//! EVPN (`evpnglue.rs`): every path that changes the Loc-RIB (UPDATEs, sessions down,
//! peers removed, restart timers) hands its EVPN changes to the service; kernel state
//! comes from the fib task (`fibtask.rs`) as `FibMsg`; the desired dataplane changes go
//! back to it once per turn of the loop, before the Adj-RIB-Out is drained.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use bgp::session::StopReason;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::config::{self, Config, PeerConfig};
use crate::control::server::ControlRequest;
use crate::control::{Command, PeerDetail, PeerSummary, Response};
use crate::evpnglue::EvpnGlue;
use crate::fibtask::{FibCmd, FibMsg};
use crate::listener;
use crate::peer::{self, settings, PeerCmd, PeerEvent, PeerHandle, PeerSettings, PeerView};
use crate::restart::RestartState;
use crate::rib::SpeakerRib;

/// Capacity of the peers -> core channel (UPDATEs): bounded so a flood slows its
/// sender's TCP instead of growing memory.
pub const PEER_EVENTS: usize = 1024;

/// Longest wait at start for the fib task's first dump (it decides whether we restart).
const FIRST_DUMP_WAIT: Duration = Duration::from_secs(10);

const NO_EVPN: &str = "no EVPN service: [fib] enabled = false (a spine)";

/// What the signal task asks of the core.
#[derive(Debug)]
pub enum Signal {
    Reload,
    Shutdown,
}

pub struct Core {
    path: PathBuf,
    config: Config,
    host: Option<String>,
    listeners: listener::Listeners,
    peers: BTreeMap<IpAddr, PeerHandle>,
    rib: SpeakerRib,
    events_tx: mpsc::Sender<PeerEvent>,
    next_instance: u64,
    /// The EVPN service (absent with `[fib] enabled = false`: a spine only reflects).
    evpn: Option<EvpnGlue>,
    /// Our own graceful restart (R/F bits, kernel sync held): `restart.rs`.
    restart: RestartState,
    fib_cmd: Option<mpsc::UnboundedSender<FibCmd>>,
}

pub struct Inputs {
    pub accepted: mpsc::Receiver<(TcpStream, SocketAddr)>,
    pub control: mpsc::Receiver<ControlRequest>,
    pub signals: mpsc::Receiver<Signal>,
    pub events: mpsc::Receiver<PeerEvent>,
    /// The fib task's snapshots and kernel events.
    pub fib: Option<mpsc::Receiver<FibMsg>>,
    /// Scrapes of the metrics endpoint (absent when it is off).
    pub metrics: Option<mpsc::Receiver<crate::metrics::MetricsRequest>>,
}

impl Core {
    pub fn new(
        path: PathBuf,
        config: Config,
        listeners: listener::Listeners,
        events_tx: mpsc::Sender<PeerEvent>,
        fib: Option<mpsc::UnboundedSender<FibCmd>>,
    ) -> Self {
        let fib_cmd = fib.clone();
        let evpn = config.file.fib.enabled.then(|| EvpnGlue::new(&config, fib));
        let g = &config.file.global;
        let mut rib_config = bgp::rib::RibConfig::new(g.asn, g.router_id);
        rib_config.cluster_id = g.cluster_id;
        let mut rib = SpeakerRib::new(rib_config);
        // Loc-RIB changes feed only the EVPN service (changing `fib.enabled` takes a
        // restart, see `reload`).
        rib.set_collect_changes(evpn.is_some());
        Self {
            path,
            config,
            host: settings::hostname(),
            listeners,
            peers: BTreeMap::new(),
            rib,
            events_tx,
            next_instance: 0,
            evpn,
            restart: RestartState::normal(tokio::time::Instant::now()),
            fib_cmd,
        }
    }

    fn settings_of(&self, p: &PeerConfig, dynamic: bool) -> PeerSettings {
        let mut s = settings::build(&self.config.file.global, p, dynamic, self.host.clone());
        if let Some(gr) = s.session.graceful_restart.as_mut() {
            self.restart.apply(gr);
        }
        s
    }

    /// Waits for the fib task's first dump: entries of ours in the kernel mean we are
    /// restarting, which the first OPENs must say (R and F bits), so peers start after it.
    async fn start_restart(&mut self, inp: &mut Inputs) {
        let mut restarting = false;
        if let Some(rx) = inp.fib.as_mut() {
            match tokio::time::timeout(FIRST_DUMP_WAIT, rx.recv()).await {
                Ok(Some(m)) => {
                    if let FibMsg::Snapshot(s) = &m {
                        restarting = crate::fibtask::has_owned(s);
                    }
                    if let FibMsg::Failed(e) = &m {
                        error!(error = %e, "FIB task stopped: the kernel is no longer programmed");
                        inp.fib = None;
                    }
                    self.on_fib(m);
                }
                Ok(None) => inp.fib = None,
                Err(_) => {
                    warn!("FIB: no kernel dump yet; starting as a normal (not restarting) speaker")
                }
            }
        }
        let g = &self.config.file.global;
        let gr_peers = self
            .config
            .peers
            .values()
            .filter(|p| p.graceful_restart)
            .map(|p| p.address);
        self.restart = RestartState::new(
            restarting,
            tokio::time::Instant::now(),
            Duration::from_secs(u64::from(g.restart_time.min(0x0fff))),
            gr_peers,
        );
        if restarting {
            info!(
                restart_time = g.restart_time,
                waiting = self.restart.waiting().count(),
                "graceful restart: our entries are in the kernel; OPENs carry R and F (L2VPN EVPN)"
            );
        }
    }

    /// Ends our restart once its End-of-RIBs are in or its time ran out: the fib task
    /// syncs (stale kernel entries go), and later OPENs no longer carry R/F.
    fn check_restart(&mut self) {
        let was = self.restart.restarting();
        if !self.restart.take_done(tokio::time::Instant::now()) {
            return;
        }
        if let Some(tx) = &self.fib_cmd {
            let _ = tx.send(FibCmd::Release);
        }
        if was {
            let late: Vec<String> = self.restart.waiting().map(|a| a.to_string()).collect();
            info!(?late, "graceful restart over: kernel synced, R/F cleared");
            for h in self.peers.values_mut() {
                if let Some(gr) = h.settings.session.graceful_restart.as_mut() {
                    self.restart.apply(gr);
                }
                let _ = h.cmd.send(PeerCmd::RestartOver);
            }
        }
    }

    fn spawn_peer(&mut self, s: PeerSettings) {
        if let Some(pw) = &s.password {
            listener::set_md5(self.listeners.sockets(), s.address, None, Some(pw));
        }
        self.next_instance += 1;
        let addr = s.address;
        match peer::spawn(s, self.events_tx.clone(), self.next_instance) {
            Ok(h) => {
                self.peers.insert(addr, h);
            }
            Err(e) => {
                error!(peer = %addr, error = %e, "peer not started: invalid session settings")
            }
        }
    }

    fn listen_range_md5(&self) {
        for r in &self.config.file.listen_range {
            let pw = self
                .config
                .file
                .peer_group
                .get(&r.peer_group)
                .and_then(|g| g.password.clone());
            if let Some(pw) = pw {
                listener::set_md5(
                    self.listeners.sockets(),
                    r.prefix.network(),
                    Some(r.prefix.prefix_len()),
                    Some(&pw),
                );
            }
        }
    }

    pub async fn run(mut self, mut inp: Inputs) {
        self.start_restart(&mut inp).await;
        self.check_restart();
        // Before any session: the initial advertisement of each peer includes them.
        let (n, _) = self.rib.set_networks(&self.config.networks);
        if n > 0 {
            info!(networks = n, "IPv4 unicast networks originated");
        }
        let configured: Vec<PeerConfig> = self.config.peers.values().cloned().collect();
        for p in configured {
            let s = self.settings_of(&p, false);
            self.spawn_peer(s);
        }
        self.listen_range_md5();
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            let restart_at = self.rib.next_restart_deadline();
            let own_restart_at = self.restart.deadline();
            // Held advertisements may go: the flush at the end of the turn sends them.
            let advertise_at = self.rib.next_advertisement();
            tokio::select! {
                _ = async {
                    match advertise_at {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = async {
                    match own_restart_at {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = async {
                    match restart_at {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let ch = self.rib.restart_timers(tokio::time::Instant::now());
                    self.evpn_changes(ch);
                }
                Some(m) = async {
                    match inp.fib.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let FibMsg::Failed(e) = &m {
                        error!(error = %e, "FIB task stopped: the kernel is no longer programmed");
                        inp.fib = None;
                    }
                    self.on_fib(m);
                }
                _ = tick.tick() => {
                    if let Some(e) = self.evpn.as_mut() {
                        e.tick();
                    }
                }
                Some((s, a)) = inp.accepted.recv() => self.accepted(s, a),
                Some(ev) = inp.events.recv() => self.on_peer_event(ev),
                Some((cmd, reply)) = inp.control.recv() => self.control(cmd, reply),
                Some(reply) = async {
                    match inp.metrics.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => self.metrics(reply),
                sig = inp.signals.recv() => match sig {
                    Some(Signal::Reload) => self.reload(),
                    Some(Signal::Shutdown) | None => {
                        self.shutdown().await;
                        return;
                    }
                },
            }
            if let Some(e) = self.evpn.as_mut() {
                e.flush();
            }
            // After the flush: the deltas of the last End-of-RIB reach the fib first.
            self.check_restart();
            self.flush_out();
        }
    }

    /// Loc-RIB changes into the EVPN service.
    fn evpn_changes(&mut self, ch: bgp::rib::Changes) {
        if let Some(e) = self.evpn.as_mut() {
            if !ch.evpn.is_empty() {
                e.rib_changes(&mut self.rib, ch.evpn);
            }
        }
    }

    fn on_fib(&mut self, m: FibMsg) {
        let Some(e) = self.evpn.as_mut() else {
            return;
        };
        match m {
            FibMsg::Snapshot(s) => e.snapshot(&mut self.rib, &s),
            FibMsg::Event(ev) => e.event(&mut self.rib, ev),
            FibMsg::Failed(_) => {}
        }
    }

    fn accepted(&mut self, stream: TcpStream, from: SocketAddr) {
        let ip = listener::canonical(from.ip());
        if let Some(h) = self.peers.get(&ip) {
            let _ = h.cmd.send(PeerCmd::Accepted(stream));
            return;
        }
        let file = &self.config.file;
        let Some(range) = file.listen_range.iter().find(|r| r.prefix.contains(&ip)) else {
            // Debug only: an unknown host retrying must not flood the log.
            debug!(%from, "connection from an unconfigured address refused");
            return;
        };
        let Some(group) = file.peer_group.get(&range.peer_group) else {
            return;
        };
        let Some(remote_as) = group.remote_as else {
            return;
        };
        let pc = config::finish(ip, Some(range.peer_group.clone()), remote_as, group);
        let s = self.settings_of(&pc, true);
        info!(peer = %ip, range = %range.prefix, group = %range.peer_group, "dynamic neighbour");
        self.spawn_peer(s);
        if let Some(h) = self.peers.get(&ip) {
            let _ = h.cmd.send(PeerCmd::Accepted(stream));
        }
    }

    /// Peer events into the RIB; the Adj-RIB-Out is drained after every event
    /// (`flush_out`). Loc-RIB changes are where the EVPN service's import plugs in.
    fn on_peer_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::Established {
                peer,
                negotiated,
                local,
            } => {
                debug!(%peer, families = ?negotiated.families, ?local, "RIB: session up");
                if let Some(h) = self.peers.get(&peer) {
                    let ch = self.rib.established(peer, &negotiated, &h.settings, local);
                    self.evpn_changes(ch);
                }
                self.restart.established(
                    peer,
                    negotiated.has_family(bgp::packet::AfiSafi::L2VPN_EVPN),
                );
            }
            PeerEvent::Down {
                peer,
                reason,
                stale,
            } => {
                debug!(%peer, %reason, stale = stale.is_some(), "RIB: session down");
                let ch = self.rib.down(peer, stale.as_ref());
                self.evpn_changes(ch);
            }
            PeerEvent::Update { peer, update, .. } => {
                if let Some(f) = update.is_end_of_rib() {
                    self.restart.end_of_rib(peer, f);
                }
                // The session delivered it with its RFC 7606 verdict; the RIB reads the
                // same verdict from the UPDATE itself.
                if let Some(ch) = self.rib.update(peer, &update) {
                    self.evpn_changes(ch);
                }
                if let Some(h) = self.peers.get(&peer) {
                    if !h.settings.session.max_prefix.is_empty() {
                        for m in &h.settings.session.max_prefix {
                            let count = self.rib.prefix_count(peer, m.family);
                            let _ = h.cmd.send(PeerCmd::PrefixCount {
                                family: m.family,
                                count,
                            });
                        }
                    }
                }
            }
            PeerEvent::RouteRefresh { peer, refresh } => {
                // Our Adj-RIB-Out is state: re-advertising means marking it all dirty,
                // which the RIB does when the family comes up again.
                debug!(%peer, ?refresh, "route refresh received");
                self.rib.refresh(peer, refresh.family);
            }
            PeerEvent::BatchDone { peer } => self.rib.batch_done(peer),
            PeerEvent::Gone { peer, instance } => {
                if self
                    .peers
                    .get(&peer)
                    .is_some_and(|h| h.instance == instance)
                {
                    self.peers.remove(&peer);
                    let ch = self.rib.removed(peer);
                    self.evpn_changes(ch);
                }
            }
        }
    }

    /// Hands every peer without a batch in flight its next Adj-RIB-Out batch.
    fn flush_out(&mut self) {
        for (addr, out) in self.rib.outgoing() {
            let cmd = match out {
                crate::rib::Outgoing::Encoded(m) => PeerCmd::SendEncoded(m),
                crate::rib::Outgoing::Updates(u) => PeerCmd::SendUpdates(u),
            };
            match self.peers.get(&addr) {
                Some(h) if h.cmd.send(cmd).is_ok() => {}
                _ => {
                    let ch = self.rib.removed(addr);
                    self.evpn_changes(ch);
                    if let Some(e) = self.evpn.as_mut() {
                        e.flush();
                    }
                }
            }
        }
    }

    fn control(&mut self, cmd: Command, reply: oneshot::Sender<Response>) {
        match cmd {
            Command::ShowPeers => {
                let asks = self.ask_all(None);
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for (rx, counts) in asks {
                        if let Some(v) = wait(rx).await {
                            out.push(summary(&v, counts));
                        }
                    }
                    let _ = reply.send(Response::data(out));
                });
            }
            Command::ShowPeer { address } => {
                let mut asks = self.ask_all(Some(address));
                let Some((rx, counts)) = asks.pop() else {
                    let _ = reply.send(Response::error(format!("no such peer {address}")));
                    return;
                };
                let local_as = self.config.file.global.asn;
                // The core's copy: a reload changes it without a session reset.
                let advertisement_interval = self
                    .peers
                    .get(&address)
                    .map_or(0, |h| h.settings.advertisement_interval);
                let rib = self.rib.stats(address);
                tokio::spawn(async move {
                    let r = match wait(rx).await {
                        Some(v) => Response::data(PeerDetail {
                            summary: summary(&v, counts),
                            peer_group: v.settings.peer_group.clone(),
                            port: v.settings.remote.port(),
                            local_as,
                            password: v.settings.password.is_some(),
                            advertisement_interval,
                            session: v.status,
                            rib,
                        }),
                        None => Response::error(format!("peer {address} did not answer")),
                    };
                    let _ = reply.send(r);
                });
            }
            Command::ShowRoutes { filter } => {
                let mut rows = self.rib.rows(&filter);
                // FRR's order: by RD, then prefix, then peer.
                rows.sort_by(|a, b| {
                    (&a.rd, a.route_type, &a.prefix, a.peer).cmp(&(
                        &b.rd,
                        b.route_type,
                        &b.prefix,
                        b.peer,
                    ))
                });
                let _ = reply.send(Response::data(rows));
            }
            Command::ShowIpv4Routes { peer } => {
                let mut rows = self.rib.ipv4_rows(peer);
                // FRR's order: by prefix (address, then length), best path first.
                rows.sort_by_key(|r| {
                    let net = r.prefix.parse::<ipnet::Ipv4Net>().ok();
                    (net.map(|n| (n.network(), n.prefix_len())), !r.best, r.peer)
                });
                let _ = reply.send(Response::data(rows));
            }
            Command::ShowVni => {
                let r = match &self.evpn {
                    Some(e) => Response::data(crate::evpnview::vnis(&e.svc, &e.topology)),
                    None => Response::error(NO_EVPN),
                };
                let _ = reply.send(r);
            }
            Command::ShowMacs { vni } => {
                let r = match &self.evpn {
                    Some(e) => Response::data(crate::evpnview::macs(&e.svc, &e.topology, vni)),
                    None => Response::error(NO_EVPN),
                };
                let _ = reply.send(r);
            }
            Command::ShowFdb => {
                let Some(tx) = self.evpn.as_ref().and_then(|e| e.fib()) else {
                    let _ = reply.send(Response::error(NO_EVPN));
                    return;
                };
                let (ask, rx) = oneshot::channel();
                if tx.send(FibCmd::ShowFdb(ask)).is_err() {
                    let _ = reply.send(Response::error("the FIB task is not running"));
                    return;
                }
                tokio::spawn(async move {
                    let r = match tokio::time::timeout(Duration::from_secs(5), rx).await {
                        Ok(Ok(v)) => Response::data(crate::evpnview::fdb(&v)),
                        _ => Response::error("the FIB task did not answer"),
                    };
                    let _ = reply.send(r);
                });
            }
            Command::ClearPeer { address, soft } => {
                let r = match self.peers.get(&address) {
                    Some(h) => {
                        info!(peer = %address, soft, "clear requested");
                        let _ = h.cmd.send(PeerCmd::Clear { soft });
                        Response::data(serde_json::json!({"cleared": address, "soft": soft}))
                    }
                    None => Response::error(format!("no such peer {address}")),
                };
                let _ = reply.send(r);
            }
        }
    }

    /// Gathers a metrics snapshot: RIB and EVPN counts now, peers and the fib thread by
    /// asking them (answered by a task, so the loop never waits).
    fn metrics(&mut self, reply: crate::metrics::MetricsRequest) {
        use crate::metrics::{EvpnMetrics, PeerMetrics, Snapshot};
        let asks = self.ask_all(None);
        let evpn = self.evpn.as_ref().map(|e| EvpnMetrics {
            vnis: e.svc.instances().len() as u64,
            local_macs: e.svc.local().macs.len() as u64,
            remote_macs: e.svc.importer().remote_macs() as u64,
        });
        let fib = self.evpn.as_ref().and_then(|e| e.fib()).and_then(|tx| {
            let (ask, rx) = oneshot::channel();
            tx.send(FibCmd::Metrics(ask)).ok().map(|()| rx)
        });
        let evpn_routes = self.rib.evpn_route_counts();
        tokio::spawn(async move {
            let mut peers = Vec::new();
            for (rx, prefixes) in asks {
                if let Some(v) = wait(rx).await {
                    peers.push(PeerMetrics {
                        address: v.settings.address,
                        state: v.status.state,
                        counters: v.status.counters,
                        prefixes,
                    });
                }
            }
            let fib = match fib {
                Some(rx) => tokio::time::timeout(Duration::from_secs(2), rx)
                    .await
                    .ok()
                    .and_then(Result::ok),
                None => None,
            };
            let _ = reply.send(Snapshot {
                peers,
                evpn_routes,
                evpn,
                fib,
            });
        });
    }

    fn ask_all(
        &self,
        only: Option<IpAddr>,
    ) -> Vec<(
        oneshot::Receiver<PeerView>,
        Vec<crate::control::FamilyCounts>,
    )> {
        self.peers
            .iter()
            .filter(|(a, _)| only.is_none_or(|o| o == **a))
            .map(|(a, h)| {
                let (tx, rx) = oneshot::channel();
                let _ = h.cmd.send(PeerCmd::Show(tx));
                let counts = self.rib.counts(*a);
                (rx, counts)
            })
            .collect()
    }

    fn reload(&mut self) {
        let new = match Config::load(&self.path) {
            Ok(c) => c,
            Err(e) => {
                error!(error = %e, "reload rejected; the running configuration is kept");
                return;
            }
        };
        if let Err(e) = crate::logging::check(&new.file.logging) {
            error!(error = %e, "reload rejected; the running configuration is kept");
            return;
        }
        let old_global = self.config.file.global.clone();
        let g = &new.file.global;
        if (g.asn, g.router_id, g.cluster_id)
            != (old_global.asn, old_global.router_id, old_global.cluster_id)
        {
            // The RIB and every session are built on these; FRR too needs the whole
            // `router bgp` re-created to change them.
            error!("reload rejected: global.asn, router_id and cluster_id change only with a restart; the running configuration is kept");
            return;
        }
        // The only step that can fail on the outside world, so it goes first: a listen
        // address that does not bind rejects the whole reload (nothing half-applied).
        let mut new_sockets = false;
        if old_global.listen != g.listen {
            match self.listeners.reconcile(&g.listen) {
                Ok((added, removed)) => {
                    info!(added, removed, listen = ?g.listen, "global.listen applied");
                    new_sockets = added > 0;
                }
                Err(e) => {
                    error!(error = %e, "reload rejected: global.listen does not bind; the running configuration is kept");
                    return;
                }
            }
        }
        self.reload_logging(&new.file.logging);
        self.restart_only_changes(&new);
        if new.networks != self.config.networks {
            // Our own routes only: the Adj-RIB-Outs send the difference, no session resets.
            let (added, removed) = self.rib.set_networks(&new.networks);
            info!(added, removed, "ipv4_unicast.networks applied");
        }
        self.config = new;
        let (mut added, mut removed, mut changed) = (0, 0, 0);
        let current: Vec<IpAddr> = self.peers.keys().copied().collect();
        for addr in current {
            let Some(h) = self.peers.get(&addr) else {
                continue;
            };
            let want = match self.config.peers.get(&addr) {
                Some(p) => Some(self.settings_of(p, false)),
                None if h.settings.dynamic => self.dynamic_settings(addr),
                None => None,
            };
            match want {
                None => {
                    let _ = h.cmd.send(PeerCmd::Stop {
                        reason: StopReason::PeerDeconfigured,
                        exit: true,
                        done: None,
                    });
                    if h.settings.password.is_some() {
                        listener::set_md5(self.listeners.sockets(), addr, None, None);
                    }
                    self.peers.remove(&addr);
                    self.restart.removed(addr);
                    let ch = self.rib.removed(addr);
                    self.evpn_changes(ch);
                    removed += 1;
                }
                // Only what the RIB applies to the running session changed: no reset.
                Some(s) if s != h.settings && s.same_session(&h.settings) => {
                    info!(peer = %addr, advertisement_interval = s.advertisement_interval, "advertisement interval changed; session kept");
                    self.rib
                        .set_advertisement_interval(addr, s.advertisement_interval);
                    if let Some(h) = self.peers.get_mut(&addr) {
                        h.settings = s;
                    }
                    changed += 1;
                }
                Some(s) if s != h.settings && s.session.validate().is_err() => {
                    error!(peer = %addr, "new settings invalid for the session; peer left as it was");
                }
                Some(s) if s != h.settings => {
                    if let Some(pw) = &s.password {
                        listener::set_md5(self.listeners.sockets(), addr, None, Some(pw));
                    } else if h.settings.password.is_some() {
                        listener::set_md5(self.listeners.sockets(), addr, None, None);
                    }
                    let _ = h.cmd.send(PeerCmd::Replace(Box::new(s.clone())));
                    if let Some(h) = self.peers.get_mut(&addr) {
                        h.settings = s;
                    }
                    changed += 1;
                }
                Some(_) => {}
            }
        }
        let new_peers: Vec<PeerConfig> = self
            .config
            .peers
            .values()
            .filter(|p| !self.peers.contains_key(&p.address))
            .cloned()
            .collect();
        for p in new_peers {
            let s = self.settings_of(&p, false);
            self.spawn_peer(s);
            added += 1;
        }
        if new_sockets {
            // New listening sockets have no keys yet; setting a key again is harmless.
            for h in self.peers.values() {
                if let Some(pw) = &h.settings.password {
                    listener::set_md5(self.listeners.sockets(), h.settings.address, None, Some(pw));
                }
            }
        }
        self.listen_range_md5();
        if let Some(e) = self.evpn.as_mut() {
            e.reload(&mut self.rib, &self.config);
        }
        if self.evpn.is_some() != self.config.file.fib.enabled {
            warn!("fib.enabled changed: takes effect at the next restart");
        }
        info!(added, removed, changed, "configuration reloaded");
    }

    /// A reloaded `[logging]`: level and format apply at once (`logging.rs`).
    fn reload_logging(&self, new: &config::Logging) {
        if *new == self.config.file.logging {
            return;
        }
        match crate::logging::reload(new) {
            Ok(a) if a.overridden => warn!(
                level = %new.level,
                "logging.level changed, but RUST_LOG is set and stays the filter"
            ),
            Ok(_) => {}
            // Checked before; the subscriber could still refuse (it never has).
            Err(e) => error!(error = %e, "logging settings not applied"),
        }
        info!(level = %new.level, format = ?new.format, "logging settings applied");
    }

    /// Sections read once at start: a change is said (once per reload), not applied.
    fn restart_only_changes(&self, new: &Config) {
        let (old, new) = (&self.config.file, &new.file);
        if old.control != new.control {
            warn!("control (socket, mode) changed: takes effect at the next restart");
        }
        if old.metrics != new.metrics {
            warn!("metrics.listen changed: takes effect at the next restart");
        }
    }

    /// A dynamic peer's settings under the current listen ranges, if one still covers it.
    fn dynamic_settings(&self, ip: IpAddr) -> Option<PeerSettings> {
        let file = &self.config.file;
        let r = file.listen_range.iter().find(|r| r.prefix.contains(&ip))?;
        let g = file.peer_group.get(&r.peer_group)?;
        let pc = config::finish(ip, Some(r.peer_group.clone()), g.remote_as?, g);
        Some(self.settings_of(&pc, true))
    }

    async fn shutdown(&mut self) {
        info!(
            peers = self.peers.len(),
            "shutting down: Cease to every peer"
        );
        let mut waits = Vec::new();
        for h in self.peers.values() {
            let (tx, rx) = oneshot::channel();
            let _ = h.cmd.send(PeerCmd::Stop {
                reason: StopReason::AdminShutdown { message: None },
                exit: true,
                done: Some(tx),
            });
            waits.push(rx);
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            for w in waits {
                let _ = w.await;
            }
        })
        .await;
        if let Some(tx) = self.evpn.as_ref().and_then(|e| e.fib()) {
            let remove = self.config.file.fib.on_shutdown == config::ShutdownFib::Remove;
            let (done, rx) = oneshot::channel();
            if tx.send(FibCmd::Shutdown { remove, done }).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
            }
        }
    }
}

async fn wait(rx: oneshot::Receiver<PeerView>) -> Option<PeerView> {
    tokio::time::timeout(Duration::from_secs(2), rx)
        .await
        .ok()
        .and_then(Result::ok)
}

fn summary(v: &PeerView, prefixes: Vec<crate::control::FamilyCounts>) -> PeerSummary {
    let st = &v.status;
    let c = &st.counters;
    let configured = match v.settings.session.remote_as {
        bgp::session::RemoteAs::Asn(a) => Some(a),
        bgp::session::RemoteAs::Internal => Some(v.settings.session.local_as),
        bgp::session::RemoteAs::External => None,
    };
    let ios = [
        c.opens,
        c.updates,
        c.keepalives,
        c.notifications,
        c.route_refreshes,
    ];
    PeerSummary {
        address: v.settings.address,
        remote_as: st.negotiated.as_ref().map(|n| n.peer_as).or(configured),
        state: st.state,
        uptime_secs: st.uptime_secs,
        state_age_secs: st.state_age_secs,
        dynamic: v.settings.dynamic,
        description: v.settings.description.clone(),
        msgs_received: ios.iter().map(|x| x.received).sum(),
        msgs_sent: ios.iter().map(|x| x.sent).sum(),
        prefixes,
    }
}
