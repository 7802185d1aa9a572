//! The minimum advertisement interval on real sessions (loopback 127.0.0.131..134, free
//! ports, no root): gobgpd (AS 65002) feeds evpnd A (AS 65000), which has two iBGP
//! neighbours: B1 with `advertisement_interval = 8`, B2 without (the control). A route
//! churned N times reaches B2 about N times and B1 a few times, with the same final
//! attributes; a withdrawal reaches B1 at once while an advertisement is held; a reload
//! changes the interval without resetting the session.
//!
//! The bounds leave room for a loaded machine: B1's count is bounded by the runs the
//! churn's own duration allows (one per interval, plus slack), not by wall-clock timing.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::gobgp::Gobgpd;
use common::*;
use serde_json::Value;

const INTERVAL: u64 = 8;
const CHURN: u32 = 30;
const MAC: &str = "aa:bb:cc:00:13:01";
const MAC2: &str = "aa:bb:cc:00:13:02";
const VTEP: &str = "10.0.0.231";

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn updates_received(e: &Evpnd, from: &str) -> u64 {
    let p = e.peer(from);
    p["session"]["counters"]["updates"]["received"]
        .as_u64()
        .unwrap_or_else(|| panic!("no update counter: {p}"))
}

/// The one path `e` has for `mac`, if it carries route target `rt`.
fn has_rt(e: &Evpnd, mac: &str, rt: &str) -> bool {
    let r = e.routes_for_mac(mac);
    r.len() == 1 && r[0]["route_targets"] == serde_json::json!([rt])
}

/// A's config: gobgpd, B1 with `interval` (none when `None`), B2.
fn a_config(
    a: SocketAddr,
    socket: &std::path::Path,
    peers: [(Ipv4Addr, u16); 3],
    interval: Option<u64>,
) -> String {
    let [(g, pg), (b1, pb1), (b2, pb2)] = peers;
    let mut b1_line = PeerLine::new(b1, pb1);
    if let Some(i) = interval {
        b1_line = b1_line.with(&format!("advertisement_interval = {i}"));
    }
    config(
        65000,
        "10.0.0.132",
        a,
        socket,
        &[
            PeerLine::new(g, pg).remote_as(65002),
            b1_line,
            PeerLine::new(b2, pb2),
        ],
        "",
    )
}

#[test]
fn churn_is_batched_withdrawals_are_prompt_and_reload_keeps_the_session() {
    let started = Instant::now();
    let dir = scratch("mrai");
    let (g, a, b1, b2) = (ip(131), ip(132), ip(133), ip(134));
    let gobgp = Gobgpd::start(&dir, "gobgpd", g, 65002, a);
    let (pa, pb1, pb2) = (free_port(a), free_port(b1), free_port(b2));
    let peers = [(g, gobgp.port), (b1, pb1), (b2, pb2)];
    let a_addr = SocketAddr::from((a, pa));
    let a_sock = dir.join("a/evpnd.sock");
    let ea = Evpnd::start(&dir, "a", &a_config(a_addr, &a_sock, peers, Some(INTERVAL)));
    let receiver = |name: &str, me: Ipv4Addr, port: u16, rid: &str| {
        Evpnd::start(
            &dir,
            name,
            &config(
                65000,
                rid,
                SocketAddr::from((me, port)),
                &dir.join(format!("{name}/evpnd.sock")),
                &[PeerLine::new(a, pa)],
                "",
            ),
        )
    };
    let e1 = receiver("b1", b1, pb1, "10.0.0.133");
    let e2 = receiver("b2", b2, pb2, "10.0.0.134");
    for p in [g, b1, b2] {
        ea.wait_established(&p.to_string(), Duration::from_secs(30));
    }
    let (sa, s1, s2) = (g.to_string(), a.to_string(), a.to_string());
    let shown = ea.peer(&b1.to_string());
    assert_eq!(shown["advertisement_interval"], INTERVAL, "{shown}");
    let text =
        String::from_utf8_lossy(&ea.ctl(&["show", "peer", &b1.to_string()]).stdout).to_string();
    assert!(
        text.contains(&format!(
            "Minimum time between advertisement runs is {INTERVAL} seconds"
        )),
        "{text}"
    );

    // The first route reaches both at once (B1's first advertisement is not held); it
    // also starts B1's interval.
    gobgp.mac_route("add", MAC, VTEP, "65000:0");
    for e in [&e1, &e2] {
        assert!(
            wait_until(Duration::from_secs(20), || has_rt(e, MAC, "65000:0")),
            "first route missing: {:?}\nA: {}",
            e.routes_for_mac(MAC),
            ea.log_text()
        );
    }
    let (g0, u1, u2) = (
        updates_received(&ea, &sa),
        updates_received(&e1, &s1),
        updates_received(&e2, &s2),
    );

    // Churn: the route's route target changes CHURN times, one gobgp UPDATE each.
    let churn_start = Instant::now();
    for i in 1..=CHURN {
        gobgp.mac_route("add", MAC, VTEP, &format!("65000:{i}"));
    }
    let churn_secs = churn_start.elapsed().as_secs();
    let last = format!("65000:{CHURN}");
    for e in [&e2, &e1] {
        assert!(
            wait_until(Duration::from_secs(INTERVAL * 4 + 20), || has_rt(
                e, MAC, &last
            )),
            "final version missing: {:?}",
            e.routes_for_mac(MAC)
        );
    }
    let from_gobgp = updates_received(&ea, &sa) - g0;
    let (d1, d2) = (
        updates_received(&e1, &s1) - u1,
        updates_received(&e2, &s2) - u2,
    );
    eprintln!(
        "churn of {CHURN} in {churn_secs} s: A got {from_gobgp} UPDATEs, B2 (no interval) \
         {d2}, B1 (interval {INTERVAL} s) {d1}"
    );
    // The premise: the churn reached A as separate UPDATEs and passed to B2 mostly one
    // by one (else this test could not tell MRAI from coalescing).
    assert!(from_gobgp >= u64::from(CHURN) * 3 / 4, "{from_gobgp}");
    assert!(d2 >= u64::from(CHURN) / 2, "control peer got only {d2}");
    // B1: one run per interval the churn lasted, plus slack; far fewer than the churn.
    let bound = (churn_secs / INTERVAL + 3).min(u64::from(CHURN) / 3);
    assert!(
        d1 >= 1 && d1 <= bound,
        "B1 got {d1} UPDATEs for {CHURN} changes (bound {bound})"
    );
    let r = &e1.routes_for_mac(MAC)[0];
    assert_eq!(r["next_hop"], VTEP, "{r}");
    assert_eq!(r["peer"], s1, "{r}");

    // Reload: B1's interval 8 -> 600 s, no session reset. Whatever ran before, B1's gate
    // is closed now for far longer than this test waits.
    let established =
        |e: &Evpnd, p: &str| -> Value { e.peer(p)["session"]["counters"]["established"].clone() };
    let b1s = b1.to_string();
    assert_eq!(established(&ea, &b1s), 1);
    std::fs::write(&ea.config, a_config(a_addr, &a_sock, peers, Some(600))).unwrap();
    signal(&ea.proc.child, libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(15), || ea.peer(&b1s)
            ["advertisement_interval"]
            == 600),
        "reload not applied: {}",
        ea.log_text()
    );
    // A new route (held for B1) and the withdrawal of one B1 has (not held).
    gobgp.mac_route("add", MAC2, VTEP, "65000:2");
    gobgp.mac_route("del", MAC, VTEP, &last);
    assert!(
        wait_until(Duration::from_secs(20), || e2
            .routes_for_mac(MAC)
            .is_empty()
            && has_rt(&e2, MAC2, "65000:2")),
        "B2: {:?} {:?}",
        e2.routes_for_mac(MAC),
        e2.routes_for_mac(MAC2)
    );
    assert!(
        wait_until(Duration::from_secs(20), || e1
            .routes_for_mac(MAC)
            .is_empty()),
        "withdrawal held for B1: {:?}",
        e1.routes_for_mac(MAC)
    );
    assert!(
        e1.routes_for_mac(MAC2).is_empty(),
        "B1 got a new route within its interval: {:?}",
        e1.routes_for_mac(MAC2)
    );
    let sent: Vec<_> = ea.peer(&b1s)["prefixes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(sent[0]["sent"], 0, "A's Adj-RIB-Out to B1: {sent:?}");

    // Reload to no interval: the held route goes now, still on the same session.
    std::fs::write(&ea.config, a_config(a_addr, &a_sock, peers, None)).unwrap();
    signal(&ea.proc.child, libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(20), || has_rt(&e1, MAC2, "65000:2")),
        "held route not released: {:?}\n{}",
        e1.routes_for_mac(MAC2),
        ea.log_text()
    );
    assert_eq!(established(&ea, &b1s), 1, "the session was reset");
    // B1's side keeps its counters across connections: one, never dropped.
    assert_eq!(established(&e1, &s1), 1, "the session was reset");
    assert_eq!(
        e1.peer(&s1)["session"]["counters"]["dropped"],
        0,
        "the session was reset"
    );
    assert_eq!(ea.state_of(&b1s).as_deref(), Some("Established"));
    eprintln!("advertisement interval test took {:?}", started.elapsed());
}
