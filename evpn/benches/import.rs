//! Import of remote type-2 routes into the desired FIB state.
//!
//! Routes: hosts spread over 100 VNIs and 50 remote VTEPs, each host advertised as a
//! MAC-only and a MAC+IPv4 route (as FRR does once the SVI has resolved it), attributes
//! interned per (VTEP, VNI) as the speaker will. One-shot figures for 1M routes (rate and
//! resident memory growth, from /proc/self/status) are printed first; criterion then
//! measures 100k routes per iteration.
//!
//! Run: `cargo bench -p evpn --bench import`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bgp::packet::evpn::{Esi, EvpnNlri, Label, MacIpAdvertisement};
use bgp::packet::extcomm::{ExtendedCommunity, RouteTarget};
use bgp::packet::types::{MacAddress, RouteDistinguisher};
use criterion::{criterion_group, Criterion, Throughput};
use evpn::{EvpnConfig, FibDelta, Importer, Instances, PathAttrs, ReceivedRoute, RouteSource};
use fib::Vni;

/// Counts live heap bytes, so memory per route is exact (RSS also sees freed pages the
/// allocator keeps, and page granularity).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const VNIS: u32 = 100;
const VTEPS: u32 = 50;

fn instances() -> Instances {
    let c = EvpnConfig::new(65000, Ipv4Addr::new(10, 0, 0, 1));
    let vteps: BTreeMap<Vni, IpAddr> = (0..VNIS)
        .map(|i| (Vni(1000 + i), IpAddr::from([10, 0, 0, 1])))
        .collect();
    Instances::from_vteps(&c, &vteps, &Instances::default())
}

/// `n` type-2 routes (n/2 hosts, MAC and MAC+IP each).
fn routes(n: usize) -> Vec<ReceivedRoute> {
    let mut attrs: HashMap<(u32, u32), Arc<PathAttrs>> = HashMap::new();
    let mut out = Vec::with_capacity(n);
    for h in 0..(n / 2) as u32 {
        let vni = 1000 + h % VNIS;
        let vtep_i = (h / VNIS) % VTEPS;
        let vtep = IpAddr::from([10, 0, 1, 2 + vtep_i as u8]);
        let a = attrs
            .entry((vtep_i, vni))
            .or_insert_with(|| {
                Arc::new(PathAttrs {
                    next_hop: vtep,
                    ext_communities: vec![
                        ExtendedCommunity::route_target(RouteTarget::As2 {
                            asn: 65000,
                            value: vni,
                        }),
                        ExtendedCommunity::vxlan_encapsulation(),
                    ],
                    pmsi: None,
                })
            })
            .clone();
        let [b0, b1, b2, b3] = h.to_be_bytes();
        let rd = RouteDistinguisher::Ipv4 {
            addr: Ipv4Addr::new(10, 0, 1, 2 + vtep_i as u8),
            number: (vni - 998) as u16,
        };
        for ip in [None, Some(IpAddr::from([10, b1, b2, b3]))] {
            out.push(ReceivedRoute {
                route: evpn::EvpnRoute {
                    nlri: EvpnNlri::MacIp(MacIpAdvertisement {
                        rd,
                        esi: Esi::ZERO,
                        ethernet_tag: 0,
                        mac_len: 48,
                        mac: MacAddress([0x02, b0, b1, b2, b3, 0x01]),
                        ip,
                        label1: Label::from_vni(vni),
                        label2: None,
                    }),
                    attrs: a.clone(),
                },
                source: RouteSource {
                    peer: IpAddr::from([10, 255, 1, 0]),
                    originator_id: Some(Ipv4Addr::new(10, 0, 1, 2 + vtep_i as u8)),
                },
            });
        }
    }
    out
}

fn import(inst: &Instances, routes: &[ReceivedRoute]) -> Importer {
    let mut imp = Importer::new();
    let mut delta = FibDelta::default();
    let mut changed = Vec::new();
    for r in routes {
        imp.upsert(inst, r, &mut delta);
        // As the service does (it re-decides mobility of local MACs among them).
        imp.drain_changed_macs(&mut changed);
        changed.clear();
        // The daemon hands each delta to fib and starts a new one.
        delta.fdb.clear();
        delta.neigh.clear();
        delta.flood.clear();
    }
    imp
}

/// Time this thread spent on a CPU (the machine is shared: wall time includes waiting).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One pass over 1M routes: rate, memory, withdrawal rate, full recompute time.
fn one_million() {
    let inst = instances();
    // EVPN_BENCH_ROUTES: a smaller run, e.g. under valgrind --tool=callgrind.
    let n = std::env::var("EVPN_BENCH_ROUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rs = routes(n);
    let before = rss_kib();
    let heap_before = LIVE.load(Ordering::Relaxed);
    let t = Instant::now();
    let c = cpu_secs();
    let mut imp = import(&inst, &rs);
    let dt = t.elapsed();
    let dc = cpu_secs() - c;
    let heap = LIVE.load(Ordering::Relaxed).saturating_sub(heap_before);
    let after = rss_kib();
    let fib = imp.fib();
    println!(
        "import {n} type-2 routes: {:.2} s, {:.0} routes/s; fdb {} neigh {}",
        dt.as_secs_f64(),
        n as f64 / dt.as_secs_f64(),
        fib.fdb.len(),
        fib.neigh.len()
    );
    drop(fib);
    println!(
        "  on-CPU: {dc:.2} s, {:.0} routes per CPU-second",
        n as f64 / dc
    );
    println!(
        "  live heap: {} MiB ({} bytes/route, importer, incl. the desired state it keeps)",
        heap / (1 << 20),
        heap / n
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "  resident memory growth: {} MiB ({} bytes/route, importer, incl. the desired state it keeps)",
            (a.saturating_sub(b)) / 1024,
            (a.saturating_sub(b)) * 1024 / n as u64
        );
    }
    // What a sorted FibState copy (`fib()`, the shape the fib thread keeps) costs, for
    // comparison: the importer's own copy is in hash maps and counted in the heap above.
    let h0 = LIVE.load(Ordering::Relaxed);
    let fib_copy = imp.fib();
    let fib_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(h0);
    drop(fib_copy);
    println!(
        "  (a sorted FibState copy, as fib() builds it: {} bytes/route)",
        fib_bytes / n
    );
    let t = Instant::now();
    let full = imp.recompute();
    println!(
        "  full recompute from stored routes: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(full, imp.fib());
    let t = Instant::now();
    let c = cpu_secs();
    let mut d = FibDelta::default();
    let mut changed = Vec::new();
    for r in &rs {
        imp.withdraw(&r.route.key(), &mut d);
        imp.drain_changed_macs(&mut changed);
        changed.clear();
        d.fdb.clear();
        d.neigh.clear();
    }
    let dt = t.elapsed();
    let dc = cpu_secs() - c;
    println!(
        "  withdraw all: {:.2} s, {:.0} routes/s ({:.0} per CPU-second)",
        dt.as_secs_f64(),
        n as f64 / dt.as_secs_f64(),
        n as f64 / dc
    );
    assert!(imp.fib().is_empty());
}

fn bench(c: &mut Criterion) {
    let inst = instances();
    let n = 100_000;
    let rs = routes(n);
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("100k type-2 over 100 VNIs", |b| {
        b.iter(|| import(&inst, &rs))
    });
    g.bench_function("100k full (evpn::import::full)", |b| {
        b.iter(|| evpn::import::full(&inst, &rs, &|_| evpn::LocalRole::NotLocal))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    // `cargo test --benches` runs this in test mode: keep it short there.
    if std::env::args().any(|a| a == "--bench") {
        one_million();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
