//! evpnd's tasks and the channels between them. Every input reaches the core as a
//! message; peers own their sockets and timers; nothing shares a lock.
//!
//! ```text
//!   signals task                 listener task(s)              control server
//!   SIGHUP/SIGTERM/SIGINT        accept() on global.listen     Unix socket, one task
//!        |                            |                        per evpnctl client
//!        | Signal (mpsc 4)            | (TcpStream, addr)             |
//!        |                            | (mpsc 64)                     | (Command, oneshot)
//!        v                            v                               v (mpsc 64)
//!   +-----------------------------------------------------------------------------+
//!   | core task (core.rs): peers by address, bgp::rib (rib.rs), GR restart timers, |
//!   | the next end of a peer's advertisement interval (held routes then go out),  |
//!   | config + reload, listen ranges -> dynamic peers, control answers             |
//!   +-----------------------------------------------------------------------------+
//!        | PeerCmd (unbounded:               ^ PeerEvent (mpsc 1024, bounded:
//!        | Accepted, Show, Clear, Replace,   |  Established, Down, Update,
//!        | Stop, SendUpdates = Adj-RIB-Out)  |  RouteRefresh, Gone)
//!        v                                   |
//!   +--------------------------------------------------+   one per peer (peer/mod.rs)
//!   | peer task: bgp::session::Session (+ a second one |
//!   | during a collision), timers per TimerKind, reads |---- connect task (one attempt,
//!   | and frames the socket, decodes with the codec    |     MD5/TTL/GTSM), result by
//!   +--------------------------------------------------+     mpsc 4
//!        | Bytes (mpsc 256 per connection; what finds it full waits in the connection
//!        |        (one batch at most) while the task keeps reading and running timers;
//!        v        a peer whose queue does not move for its hold time is dropped as stuck)
//!   writer task per connection (peer/conn.rs): write_all, then FIN on close + drain
//!
//!   metrics server (metrics.rs, only with [metrics] listen): one task per scrape sends
//!   a oneshot (mpsc 16) to the core, which gathers the snapshot like a show command
//!
//!   core <── FibMsg (mpsc 1024: Snapshot, kernel Event) ── fib thread (fibtask.rs, own
//!   core ── FibCmd (unbounded: Delta, ShowFdb, Shutdown) ──> current-thread runtime;
//!                                    owns fib::Reconciler<NetlinkDataplane>, syncs the
//!                                    kernel coalesced, at most every 5 ms)
//! ```
//!
//! PeerCmd is unbounded because the core must never wait on a peer that waits on the
//! core; it stays small because the core drains the Adj-RIB-Out per peer in batches
//! (rib.rs, 64 UPDATEs) with one batch in flight: the next only after `BatchDone`, when
//! the last batch is all in the peer's write queue. A slow peer therefore holds its
//! backlog as RIB state (one pending key per route, latest state wins), not as queued
//! bytes (tests/slow_peer.rs).

use std::path::PathBuf;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{error, info};

use crate::config::Config;
use crate::control;
use crate::core::{Core, Inputs, Signal, PEER_EVENTS};
use crate::listener;
use crate::metrics;

/// Runs the daemon until SIGTERM/SIGINT. Errors are setup failures (ports, socket).
pub async fn run(path: PathBuf, config: Config) -> Result<(), String> {
    let ctl = &config.file.control;
    let ctl_listener = control::server::bind(&ctl.socket, ctl.mode)
        .map_err(|e| format!("control socket {}: {e}", ctl.socket.display()))?;
    let socket_path = ctl.socket.clone();

    let (acc_tx, acc_rx) = mpsc::channel(64);
    let listeners = listener::Listeners::start(&config.file.global.listen, acc_tx)
        .map_err(|e| e.to_string())?;
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    tokio::spawn(control::server::serve(ctl_listener, ctl_tx));
    let (sig_tx, sig_rx) = mpsc::channel(4);
    spawn_signals(sig_tx).map_err(|e| format!("signals: {e}"))?;
    let (ev_tx, ev_rx) = mpsc::channel(PEER_EVENTS);

    info!(
        asn = config.file.global.asn,
        router_id = %config.file.global.router_id,
        peers = config.peers.len(),
        listen = ?config.file.global.listen,
        control = %socket_path.display(),
        "evpnd started"
    );
    let metrics = match config.file.metrics.listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("metrics listen {addr}: {e}"))?;
            let (tx, rx) = mpsc::channel(16);
            tokio::spawn(metrics::serve(l, tx));
            info!(listen = %addr, "metrics endpoint: GET /metrics");
            Some(rx)
        }
        None => None,
    };
    let (fib_cmd, fib_rx) = if config.file.fib.enabled {
        let h = crate::fibtask::spawn().map_err(|e| format!("fib thread: {e}"))?;
        (Some(h.cmd), Some(h.msgs))
    } else {
        info!("[fib] enabled = false: no EVPN service, the kernel is not programmed");
        (None, None)
    };
    let core = Core::new(path, config, listeners, ev_tx, fib_cmd);
    core.run(Inputs {
        accepted: acc_rx,
        control: ctl_rx,
        signals: sig_rx,
        events: ev_rx,
        fib: fib_rx,
        metrics,
    })
    .await;
    if let Err(e) = std::fs::remove_file(&socket_path) {
        error!(error = %e, "cannot remove the control socket");
    }
    info!("evpnd stopped");
    Ok(())
}

fn spawn_signals(tx: mpsc::Sender<Signal>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let s = tokio::select! {
                _ = term.recv() => Signal::Shutdown,
                _ = int.recv() => Signal::Shutdown,
                _ = hup.recv() => Signal::Reload,
            };
            info!(signal = ?s, "signal received");
            let last = matches!(s, Signal::Shutdown);
            if tx.send(s).await.is_err() || last {
                return;
            }
        }
    });
    Ok(())
}
