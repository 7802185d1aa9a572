//! Backpressure (issue 3): a slow peer must not stall the others or grow memory without
//! bound; the Adj-RIB-Out is state, not a queue of messages.
//!
//! ```text
//!   I (127.0.0.172, raw speaker) --100k type-2, 4 rounds, half withdrawn--> E (evpnd RR)
//!   E --> F (127.0.0.173, raw speaker, reads everything at once)
//!   E --> S (127.0.0.174, raw speaker, SO_RCVBUF 4 KiB, sends KEEPALIVEs, reads nothing
//!            for longer than the hold time, then everything)
//! ```
//!
//! All iBGP (AS 65000), hold time 9 s; F and S are route-reflector clients of E, so E
//! reflects I's routes to both. While S stalls, I announces the routes (MED 1), announces
//! them all again three times (MED 2, 3, 4) and withdraws half. The test proves:
//! - F gets every change while S has read nothing (S's backlog, 400k announcements and
//!   50k withdrawals, is far more than E's write queue and the sockets hold);
//! - E's RSS does not grow with that churn while S stalls: a queue of messages per peer
//!   would hold every round for S (at least the size of the UPDATEs I sent after the
//!   second round, measured from there); the Adj-RIB-Out holds one state per route;
//! - E keeps reading S's KEEPALIVEs while it cannot write to S: the session stays
//!   Established for longer than the hold time;
//! - when S reads again it gets End-of-RIB (sent when it came up, before any route) and
//!   the final state (the surviving half, MED 4); a route is announced to S at most
//!   twice (once unless it was among the UPDATEs already on their way when S stalled:
//!   E's write queue, one batch, 128 KiB unsent in the kernel, TCP_NOTSENT_LOWAT) and
//!   withdrawn only if S had it; those on their way are a small part of the routes —
//!   not a replay of the history.

mod common;
#[path = "common/speaker.rs"]
mod speaker;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use speaker::{Received, Speaker, Type2Set};

const ROUTES: u32 = 100_000;
const ASN: u32 = 65000;
/// The hold time in E's config (common::config) and in our OPENs.
const HOLD: u16 = 9;
/// S reads nothing for at least this long: more than the hold time.
const STALL: Duration = Duration::from_secs(12);
/// Generous for a debug build on a loaded 2-core machine.
const PHASE: Duration = Duration::from_secs(120);

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn vm_rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Polls `f` (every 50 ms) until it holds; panics with `what` after `within`.
fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < within, "timed out after {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

/// F holds exactly `n` routes, all with MED `med`.
fn holds(rx: &Mutex<Received>, n: usize, med: u32) -> bool {
    let r = rx.lock().expect("lock");
    assert!(r.error.is_none() && !r.closed, "F: {r:?}");
    r.present.len() == n && r.with_med(Some(med)) == n
}

/// E (evpnd, AS 65000, passive) on `e_ip`: iBGP to the injector on `i_ip` and to the
/// route-reflector clients on `clients`. Returns E and its listen address.
fn start_e(
    dir: &Path,
    e_ip: Ipv4Addr,
    i_ip: Ipv4Addr,
    clients: &[Ipv4Addr],
) -> (Evpnd, SocketAddr) {
    let listen = SocketAddr::new(IpAddr::V4(e_ip), free_port(e_ip));
    // E never connects out (passive); the speakers connect to it.
    let unused = free_port(i_ip);
    let mut peers = vec![PeerLine::new(i_ip, unused).with("passive = true")];
    for c in clients {
        peers.push(PeerLine::new(*c, unused).with("passive = true\nroute_reflector_client = true"));
    }
    let socket = dir.join("e").join("evpnd.sock");
    let router_id = format!("10.255.0.{}", e_ip.octets()[3]);
    let text = config(ASN, &router_id, listen, &socket, &peers, "");
    (Evpnd::start(dir, "e", &text), listen)
}

fn type2(routes: u32) -> Type2Set {
    Type2Set {
        routes,
        vnis: 100,
        vni_base: 10_000,
        vteps: 100,
        mac_only: false,
        asn: ASN,
    }
}

#[test]
fn slow_peer_stalls_nobody_and_gets_the_final_state() {
    let dir = scratch("slowpeer");
    let (e_ip, i_ip, f_ip, s_ip) = (ip(171), ip(172), ip(173), ip(174));
    let (e, listen) = start_e(&dir, e_ip, i_ip, &[f_ip, s_ip]);
    let pid = e.proc.child.id();
    let e_log = || e.log_text();

    let set = type2(ROUTES);
    let all = |_| true;
    let (round1, _) = set.announce(Some(1), all).expect("encode");
    let (round2, _) = set.announce(Some(2), all).expect("encode");
    let (round3, _) = set.announce(Some(3), all).expect("encode");
    let (round4, _) = set.announce(Some(4), all).expect("encode");
    let odd = |i: u32| i % 2 == 1;
    let withdraw = set.withdraw(odd).expect("encode");
    let eor = speaker::end_of_rib().expect("encode");
    let left = (ROUTES / 2) as usize;

    let ka = Duration::from_secs(u64::from(HOLD) / 3);
    let connect = |from: Ipv4Addr, rcvbuf: Option<u32>| {
        let mut s = Speaker::connect(from, listen, ASN, HOLD, rcvbuf)
            .unwrap_or_else(|err| panic!("{from}: {err}\n{}", e_log()));
        s.keep_alive(ka).expect("keepalives");
        s
    };
    let mut slow = connect(s_ip, Some(4096));
    let stalled_at = Instant::now();
    let mut fast = connect(f_ip, None);
    let f_rx = Arc::new(Mutex::new(Received::default()));
    fast.spawn_reader(f_rx.clone()).expect("F reader");
    let mut inj = connect(i_ip, None);
    inj.spawn_reader(Arc::new(Mutex::new(Received::default())))
        .expect("I reader");
    for p in [i_ip, f_ip, s_ip] {
        e.wait_established(&p.to_string(), Duration::from_secs(20));
    }
    let s_rx0 = e.peer(&s_ip.to_string())["msgs_received"]
        .as_u64()
        .expect("msgs_received");

    // Rounds 1 and 2 while S reads nothing: F gets them. E's memory is then at its
    // working size: the RIB, S's pending keys, the attribute sets of what is on its way
    // to S, allocator pools that took the burst of UPDATEs from I.
    let rss0 = vm_rss_kb(pid);
    let t = Instant::now();
    inj.send(&round1).expect("send");
    inj.send(&eor).expect("send");
    wait_for("F has round 1", PHASE, || holds(&f_rx, ROUTES as usize, 1));
    let f_round1 = t.elapsed();
    inj.send(&round2).expect("send");
    wait_for("F has round 2", PHASE, || holds(&f_rx, ROUTES as usize, 2));
    let rss2 = vm_rss_kb(pid);

    // More churn while S still reads nothing: two more rounds and half withdrawn.
    let mut rss_max = rss2;
    for (wire, med) in [(&round3, 3), (&round4, 4)] {
        inj.send(wire).expect("send");
        wait_for("F has the new round", PHASE, || {
            holds(&f_rx, ROUTES as usize, med)
        });
        rss_max = rss_max.max(vm_rss_kb(pid));
    }
    inj.send(&withdraw).expect("send");
    wait_for("F has the withdrawals", PHASE, || holds(&f_rx, left, 4));
    let f_all = t.elapsed();
    rss_max = rss_max.max(vm_rss_kb(pid));

    // S stalls past its hold time; E keeps the session, and its memory, while S does.
    while stalled_at.elapsed() < STALL {
        std::thread::sleep(Duration::from_millis(250));
        rss_max = rss_max.max(vm_rss_kb(pid));
    }
    let stall = stalled_at.elapsed();

    // A queue of messages for S would hold at least what I sent after round 2 (E's
    // UPDATEs to S carry the same NLRI with a few more attributes); S's Adj-RIB-Out
    // already had a pending key for every route.
    let churn_kb = ((round3.len() + round4.len() + withdraw.len()) / 1024) as u64;
    let growth = rss_max.saturating_sub(rss2);
    eprintln!(
        "routes={ROUTES} F: round 1 in {f_round1:.1?}, all changes in {f_all:.1?}; \
         S stalled {stall:.1?}; E RSS kB: before {rss0}, after round 2 {rss2}, max while \
         S stalled {rss_max} (+{growth}); churn sent to E after round 2: {churn_kb} kB"
    );
    // The peer task answers while it cannot write (it is not blocked on S's socket),
    // and the session is up although E has not written to S for longer than the hold
    // time: S's KEEPALIVEs were read.
    let out = e.ctl(&["show", "peer", &s_ip.to_string(), "-j"]);
    let s_view = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default();
    assert!(
        s_view["state"] == "Established",
        "S must stay up while it sends KEEPALIVEs: {s_view}\n{}",
        e_log()
    );
    let s_rx1 = s_view["msgs_received"].as_u64().unwrap_or(0);
    assert!(
        s_rx1 >= s_rx0 + 2,
        "E must read S's KEEPALIVEs while it cannot write to S: {s_rx0} then {s_rx1}"
    );
    assert!(
        growth < churn_kb,
        "E's RSS grew by {growth} kB while S stalled (churn {churn_kb} kB): \
         messages are queued for the slow peer"
    );

    // S reads again: the final state, and End-of-RIB (E sent it when S came up: the
    // initial advertisement to S was empty, I had sent nothing yet).
    let s_rx = Arc::new(Mutex::new(Received::default()));
    let t = Instant::now();
    slow.spawn_reader(s_rx.clone()).expect("S reader");
    wait_for("S has the final state and End-of-RIB", PHASE, || {
        let r = s_rx.lock().expect("lock");
        assert!(
            r.error.is_none() && !r.closed && r.notification.is_none(),
            "S: error {:?} closed {} notification {:?}\n{}",
            r.error,
            r.closed,
            r.notification,
            e_log()
        );
        r.eor && r.present.len() == left
    });
    let s_drain = t.elapsed();
    let r = s_rx.lock().expect("lock");
    let want: HashSet<_> = (0..ROUTES)
        .filter(|i| !odd(*i))
        .map(|i| set.route(i).2)
        .collect();
    let wrong = r
        .present
        .iter()
        .filter(|(n, med)| !want.contains(*n) || **med != Some(4))
        .count();
    let again = r.times.values().filter(|t| **t > 1).count();
    let gone_seen = r.times.len() - want.iter().filter(|n| r.times.contains_key(*n)).count();
    eprintln!(
        "S: drained in {s_drain:.1?}: {} UPDATEs, {} announced ({} routes more than once, \
         {} of the withdrawn ones), {} withdrawn, End-of-RIB after {:?} routes",
        r.updates, r.announced, again, gone_seen, r.withdrawn, r.routes_at_eor
    );
    assert_eq!(
        wrong, 0,
        "S must hold exactly the surviving routes with MED 4"
    );
    // Only what was on its way when S stalled (E's write queue of 256 UPDATEs, one
    // batch of 64, the writer's buffer and the sockets') went out before the final
    // state: a route is announced at most twice, and withdrawn only if S had it. A
    // replay of the history would announce every route four times and withdraw all
    // the odd ones.
    let most = r.times.values().copied().max().unwrap_or(0);
    assert!(
        most <= 2,
        "S got history, not state: a route announced {most} times"
    );
    assert_eq!(
        r.withdrawn as usize, gone_seen,
        "S must be sent withdrawals only for the routes it was sent"
    );
    // Without TCP_NOTSENT_LOWAT Linux holds up to 4 MB unsent for S (~70k of these
    // routes on loopback); with it, a few thousand.
    let on_their_way = again + gone_seen;
    assert!(
        on_their_way < ROUTES as usize / 5,
        "{on_their_way} routes were on their way to S when it stalled: the kernel holds \
         S's backlog instead of the Adj-RIB-Out"
    );
    drop(r);

    let s_view = e.peer(&s_ip.to_string());
    assert_eq!(s_view["state"], "Established", "{s_view}\n{}", e_log());
    let up = s_view["uptime_secs"].as_u64().unwrap_or(0);
    assert!(
        up >= stall.as_secs().saturating_sub(1),
        "S's session restarted: uptime {up} s after a stall of {stall:?}"
    );
    assert!(
        !e_log().contains("does not read"),
        "E dropped a peer as stuck:\n{}",
        e_log()
    );
    drop((slow, fast, inj));
}

/// A peer that sends KEEPALIVEs but never reads is dropped once its write queue has not
/// moved for the send hold time (its hold time, at least 30 s): it would not get our
/// KEEPALIVEs either (RFC 4271 4.4), and its backlog is then freed. Up to then it
/// stays Established (the other test); the others are unaffected.
#[test]
fn peer_that_never_reads_is_dropped_after_the_send_hold_time() {
    let dir = scratch("neverreads");
    let (e_ip, i_ip, s_ip) = (ip(175), ip(176), ip(177));
    let (e, listen) = start_e(&dir, e_ip, i_ip, &[s_ip]);
    let ka = Duration::from_secs(u64::from(HOLD) / 3);
    let mut slow = Speaker::connect(s_ip, listen, ASN, HOLD, Some(4096)).expect("S");
    slow.keep_alive(ka).expect("keepalives");
    let mut inj = Speaker::connect(i_ip, listen, ASN, HOLD, None).expect("I");
    inj.keep_alive(ka).expect("keepalives");
    inj.spawn_reader(Arc::new(Mutex::new(Received::default())))
        .expect("I reader");
    for p in [i_ip, s_ip] {
        e.wait_established(&p.to_string(), Duration::from_secs(20));
    }
    // Far more than the write queue, one batch and 128 KiB unsent hold.
    let (wire, _) = type2(20_000).announce(None, |_| true).expect("encode");
    let t = Instant::now();
    inj.send(&wire).expect("send");
    let s_addr = s_ip.to_string();
    let gone = wait_for("E drops S", Duration::from_secs(90), || {
        e.state_of(&s_addr).as_deref() != Some("Established")
    });
    assert!(
        gone >= Duration::from_secs(30),
        "S dropped after {gone:?}, before the send hold time (30 s)\n{}",
        e.log_text()
    );
    assert!(
        e.log_text().contains("peer does not read"),
        "{}",
        e.log_text()
    );
    // RFC 9687: the session ends with NOTIFICATION Send Hold Timer Expired (code 8).
    assert!(
        e.log_text().contains("Send Hold Timer Expired"),
        "no RFC 9687 NOTIFICATION:\n{}",
        e.log_text()
    );
    assert_eq!(
        e.state_of(&i_ip.to_string()).as_deref(),
        Some("Established"),
        "the injector must be unaffected"
    );
    eprintln!("S dropped {:.1?} after the routes were sent", t.elapsed());
    drop((slow, inj));
}
