//! Decode + RIB insert of 1M EVPN type-2 routes from one peer (packed 4096-octet UPDATEs,
//! 100 VNIs x 3 VTEPs = 300 attribute sets) into Adj-RIB-In + Loc-RIB. Prints the time of
//! one load and the live heap bytes per route after it (counting allocator), then lets
//! Criterion time it. Targets: <= 0.5 s, <= 150 bytes/route.

use std::hint::black_box;
use std::time::Instant;

use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::evpn::EvpnRouteKey;
use bgp::packet::AfiSafi;
use bgp::rib::PeerConfig;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "rib_fixture.rs"]
mod fixture;

#[global_allocator]
static ALLOC: fixture::Counting = fixture::Counting;

const ROUTES: u32 = 1_000_000;

fn bench(c: &mut Criterion) {
    let msgs = fixture::messages(ROUTES);
    let wire: usize = msgs.iter().map(|m| m.len()).sum();

    // Decode alone, to split the figure.
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let decoded = fixture::decode_only(&msgs);
    let (decode_wall, decode_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert_eq!(decoded, ROUTES as usize);

    let before = fixture::live_bytes();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let (mut rib, peer) = fixture::rib();
    let changes = fixture::load(&mut rib, peer, &msgs);
    let (took, took_cpu) = (t.elapsed(), cpu_seconds() - cpu);
    let held = fixture::live_bytes() - before;
    assert_eq!(changes, ROUTES as usize);
    assert_eq!(rib.table::<EvpnRouteKey>().len(), ROUTES as usize);
    println!(
        "rib: {ROUTES} routes in {} UPDATEs ({wire} octets): decode alone {decode_wall:.3} s \
         wall / {decode_cpu:.2} s CPU; decode+insert {:.3} s wall / {took_cpu:.2} s CPU, \
         {} bytes held = {:.1} bytes/route, {} attribute sets",
        msgs.len(),
        took.as_secs_f64(),
        held,
        held as f64 / f64::from(ROUTES),
        rib.attr_sets(),
    );

    // Export of the whole table to one eBGP peer: Adj-RIB-Out state and packing.
    let mut spine = PeerConfig::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)),
        65100,
        Ipv4Addr::new(10, 0, 1, 1),
    );
    spine.local_address = Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)));
    let q = rib.add_peer(spine);
    let before_out = fixture::live_bytes();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    rib.peer_up(q, AfiSafi::L2VPN_EVPN).unwrap();
    let mut msgs_out = 0;
    let mut octets = 0;
    while rib.pending(q, AfiSafi::L2VPN_EVPN) > 0 {
        for m in rib.drain(q, AfiSafi::L2VPN_EVPN, 64).unwrap() {
            msgs_out += 1;
            octets += m.len();
        }
    }
    let (out_wall, out_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let out_held = fixture::live_bytes() - before_out;
    println!(
        "rib: export to one eBGP peer: {msgs_out} UPDATEs ({octets} octets) in {out_wall:.3} s \
         wall / {out_cpu:.2} s CPU; Adj-RIB-Out state {:.1} bytes/route",
        out_held as f64 / f64::from(ROUTES)
    );
    mrai(&mut rib, q);
    drop(rib);

    let mut g = c.benchmark_group("rib_evpn_type2_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(ROUTES)));
    g.bench_function("decode_insert", |b| {
        b.iter(|| {
            let (mut rib, peer) = fixture::rib();
            black_box(fixture::load(&mut rib, peer, black_box(&msgs)));
            rib
        })
    });
    // A spine: no consumer of the Loc-RIB changes (`Rib::set_collect_changes(false)`).
    g.bench_function("decode_insert_no_changes", |b| {
        b.iter(|| {
            let (mut rib, peer) = fixture::rib();
            rib.set_collect_changes(false);
            black_box(fixture::load(&mut rib, peer, black_box(&msgs)));
            rib
        })
    });
    g.finish();
}

/// The whole table changes (every route originated locally too, which wins, with another
/// next hop) while `q`'s minimum advertisement interval runs: the changes are held at no
/// UPDATE, then released packed when the interval ends.
fn mrai(rib: &mut bgp::rib::Rib, q: bgp::rib::PeerId) {
    let f = AfiSafi::L2VPN_EVPN;
    let mut cfg = rib.peer_config(q).unwrap().clone();
    cfg.advertisement_interval = 30;
    rib.set_peer(q, cfg).unwrap();
    // The export above ended at 0 ms: the interval runs until 30 s.
    rib.set_clock_ms(1_000);
    let table = rib.table::<EvpnRouteKey>();
    let nlri: Vec<_> = table
        .iter()
        .filter_map(|(k, _)| rib.best(k).map(|r| r.nlri))
        .collect();
    let attrs = bgp::rib::PathAttrs {
        next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9))),
        ..Default::default()
    };
    assert_eq!(
        rib.originate::<EvpnRouteKey>(&nlri, attrs).len(),
        ROUTES as usize
    );
    drop(nlri);
    let before = fixture::live_bytes();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let mut sent = 0;
    while rib.pending(q, f) > 0 {
        sent += rib.drain(q, f, 64).unwrap().len();
    }
    let (hold_wall, hold_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    // Signed: the held set replaces the dirty set the changes were in.
    let held_bytes = fixture::live_bytes() as i64 - before as i64;
    assert_eq!(sent, 0, "advertisements sent while the interval runs");
    assert_eq!(rib.advertisement_due(q, f), Some(30_000));
    rib.set_clock_ms(30_000);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    while rib.pending(q, f) > 0 {
        sent += rib.drain(q, f, 64).unwrap().len();
    }
    let (rel_wall, rel_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    println!(
        "rib: MRAI 30 s, whole table changed: held in {hold_wall:.3} s wall / {hold_cpu:.2} s \
         CPU, 0 UPDATEs, {:+.1} bytes/route over the dirty backlog; released at expiry: \
         {sent} UPDATEs in {rel_wall:.3} s wall / {rel_cpu:.2} s CPU",
        held_bytes as f64 / f64::from(ROUTES)
    );
}

/// User+system CPU seconds of this process (/proc/self/stat, 10 ms ticks): the machine is
/// shared, so wall time alone overstates the cost.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

criterion_group!(benches, bench);
criterion_main!(benches);
