//! Programs N remote MACs into a throwaway namespace and reports the rate, the number of
//! send() calls, and the same for `bridge -batch` and a loop of `bridge fdb add`.
//!
//!   cargo run --release -p fib --example fdb_load -- [N] [loop-N]
//!
//! Needs root and iproute2. The namespace (`evt-fib-*-load`) is removed on exit.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use common::{require_root, sh, Netns};
use fib::{diff, Dataplane, FdbKey, FibState, Mac, NetlinkDataplane, RemoteFdb, Vni};

fn desired(n: u32) -> FibState {
    let mut st = FibState::default();
    for i in 0..n {
        let b = i.to_be_bytes();
        let vtep = IpAddr::V4(Ipv4Addr::new(10, 0, 1, (i % 16) as u8 + 2));
        st.fdb.insert(
            FdbKey {
                vni: Vni(100),
                mac: Mac([0x02, 0x42, b[0], b[1], b[2], b[3]]),
            },
            RemoteFdb {
                vtep,
                sticky: false,
            },
        );
    }
    for v in 0..16u8 {
        st.flood
            .insert((Vni(100), IpAddr::V4(Ipv4Addr::new(10, 0, 1, v + 2))));
    }
    st
}

/// (user, system) CPU seconds of this process so far.
fn cpu() -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// Resident memory of this process, MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:.0} entries/s", n as f64 / secs)
}

fn main() {
    require_root();
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let loop_n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);

    let ns = Netns::new("load");
    ns.leaf();
    let mut dp = NetlinkDataplane::in_netns(ns.path()).expect("open netlink");
    let rss0 = rss_mb();
    let want = desired(n);
    println!(
        "desired state of {} MACs: {:.1} MB resident",
        want.fdb.len(),
        rss_mb() - rss0
    );

    let t = Instant::now();
    let snap = dp.dump().expect("dump");
    let plan = diff(&want, &snap);
    let t_diff = t.elapsed();
    let (u0, s0) = cpu();
    let report = dp.apply(&plan);
    let (u1, s1) = cpu();
    let secs = report.duration.as_secs_f64();
    println!(
        "evpnd fib: {} ops in {:.3} s = {} ({} send() calls, {} errors; dump+diff {:.3} s; cpu user {:.2} s, kernel {:.2} s)",
        plan.ops.len(),
        secs,
        rate(plan.ops.len(), secs),
        report.sends,
        report.errors.len(),
        t_diff.as_secs_f64(),
        u1 - u0,
        s1 - s0
    );
    if let Some(e) = report.errors.first() {
        println!("  first error: op {} {:?}: {}", e.index, e.op, e.error);
    }

    // The kernel's FDB dump restarts its walk for every 32 KB chunk (O(n^2)): fine at
    // 100k (seconds, iproute2 alike), minutes at 1M. Verify by dump only up to 200k.
    let snap = if n <= 200_000 {
        let t = Instant::now();
        let snap = dp.dump().expect("dump");
        let dump_secs = t.elapsed().as_secs_f64();
        let again = diff(&want, &snap);
        println!(
            "verify: dump of {} owned MACs in {:.3} s; {} ops still to do",
            snap.owned.fdb.len(),
            dump_secs,
            again.ops.len()
        );
        snap
    } else {
        println!("verify: skipped (kernel FDB dump is O(n^2) at this size)");
        fib::Snapshot {
            topology: snap.topology.clone(),
            owned: want.clone(),
            ..Default::default()
        }
    };

    let t = Instant::now();
    let del = diff(&FibState::default(), &snap);
    let report = dp.apply(&del);
    println!(
        "delete all: {} ops in {:.3} s = {} ({} send() calls, {} errors)",
        del.ops.len(),
        report.duration.as_secs_f64(),
        rate(del.ops.len(), t.elapsed().as_secs_f64()),
        report.sends,
        report.errors.len()
    );

    // Again with the monitor subscribed, as in the daemon: the kernel now also delivers
    // two notifications per entry to us.
    let mut rx = if std::env::var_os("FDB_LOAD_NO_MONITOR").is_some() {
        tokio::sync::mpsc::channel(1).1
    } else {
        dp.subscribe().expect("subscribe")
    };
    let report = dp.apply(&plan);
    let secs = report.duration.as_secs_f64();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (mut resyncs, mut other) = (0, 0);
    while let Ok(ev) = rx.try_recv() {
        match ev {
            fib::Event::Resync => resyncs += 1,
            _ => other += 1,
        }
    }
    println!(
        "with monitor: {} ops in {:.3} s = {} ({} sends, {} errors); monitor saw {resyncs} resync, {other} other events",
        plan.ops.len(),
        secs,
        rate(plan.ops.len(), secs),
        report.sends,
        report.errors.len()
    );
    drop(rx);
    drop(dp);
    drop(ns);

    // iproute2 for comparison, each in a fresh namespace.
    let ns = Netns::new("load-batch");
    ns.leaf();
    let path = std::env::temp_dir().join(format!("{}.batch", ns.name));
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("batch file"));
        for (k, d) in &want.fdb {
            writeln!(
                f,
                "fdb replace {} dev vxlan100 dst {} self master extern_learn",
                k.mac, d.vtep
            )
            .expect("write batch");
        }
    }
    let t = Instant::now();
    ns.run(&format!("bridge -batch {}", path.display()));
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    println!(
        "bridge -batch: {} entries in {:.3} s = {}",
        n,
        secs,
        rate(n as usize, secs)
    );
    drop(ns);

    let ns = Netns::new("load-loop");
    ns.leaf();
    let t = Instant::now();
    for (k, d) in want.fdb.iter().take(loop_n as usize) {
        sh(&format!(
            "ip netns exec {} bridge fdb replace {} dev vxlan100 dst {} self master extern_learn",
            ns.name, k.mac, d.vtep
        ));
    }
    let secs = t.elapsed().as_secs_f64();
    let done = loop_n.min(n) as usize;
    println!(
        "loop of `bridge fdb replace`: {} entries in {:.3} s = {}",
        done,
        secs,
        rate(done, secs)
    );
}
