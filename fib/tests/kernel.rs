//! Kernel tests (root): each builds its own namespaces (`evt-fib-*`, removed on drop),
//! drives the real `NetlinkDataplane`, and checks the kernel with `bridge -j fdb show` /
//! `ip -j neigh show`, parsed as JSON.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{require_root, Netns};
use fib::{
    diff, Dataplane, Event, EventReceiver, FdbKey, FibError, FibState, Mac, NeighKey,
    NetlinkDataplane, Op, OwnedEntry, Plan, RemoteFdb, Vni,
};
use serde_json::Value;

const VNI: Vni = Vni(100);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}
fn fk(m: &str) -> FdbKey {
    FdbKey {
        vni: VNI,
        mac: mac(m),
    }
}
fn nk(a: &str) -> NeighKey {
    NeighKey {
        vni: VNI,
        ip: ip(a),
    }
}
fn remote(v: &str) -> RemoteFdb {
    RemoteFdb {
        vtep: ip(v),
        sticky: false,
    }
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("-").to_string()
}

/// One line per `bridge -j fdb show` row, in a form a test can write down.
fn fdb_rows(ns: &Netns) -> BTreeSet<String> {
    let v = ns.json("bridge -j fdb show");
    v.as_array()
        .expect("fdb JSON array")
        .iter()
        .map(|e| {
            let flags: Vec<&str> = e
                .get("flags")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!(
                "{} dev {} dst {} flags [{}] master {} state {}",
                s(e, "mac"),
                s(e, "ifname"),
                s(e, "dst"),
                flags.join(","),
                s(e, "master"),
                s(e, "state")
            )
        })
        .collect()
}

/// One line per `ip -j neigh show` entry.
fn neigh_rows(ns: &Netns) -> BTreeSet<String> {
    let v = ns.json("ip -j neigh show");
    v.as_array()
        .expect("neigh JSON array")
        .iter()
        .map(|e| {
            let state: Vec<&str> = e
                .get("state")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!(
                "{} dev {} lladdr {} ext {} state {} proto {}",
                s(e, "dst"),
                s(e, "dev"),
                s(e, "lladdr"),
                e.get("extern_learn").is_some(),
                state.join(","),
                s(e, "protocol")
            )
        })
        .collect()
}

/// What FRR's zebra leaves in the kernel for this state (frr-netns-lab.md).
fn frr_rows(st: &FibState) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut fdb = BTreeSet::new();
    for (k, d) in &st.fdb {
        fdb.insert(format!(
            "{} dev vxlan100 dst {} flags [self,extern_learn] master - state ",
            k.mac, d.vtep
        ));
        fdb.insert(format!(
            "{} dev vxlan100 dst - flags [extern_learn] master br100 state ",
            k.mac
        ));
    }
    for (_, vtep) in &st.flood {
        fdb.insert(format!(
            "00:00:00:00:00:00 dev vxlan100 dst {vtep} flags [self,extern_learn] master - state permanent"
        ));
    }
    let neigh = st
        .neigh
        .iter()
        .map(|(k, m)| {
            format!(
                "{} dev br100 lladdr {m} ext true state NOARP proto zebra",
                k.ip
            )
        })
        .collect();
    (fdb, neigh)
}

fn union(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    a.union(b).cloned().collect()
}

fn reconcile(dp: &mut NetlinkDataplane, want: &FibState) -> Plan {
    let snap = dp.dump().expect("dump");
    let plan = diff(want, &snap);
    let report = dp.apply(&plan);
    assert!(report.is_ok(), "apply errors: {:?}", report.errors);
    assert_eq!(report.applied, plan.ops.len());
    // Converged: a second look finds nothing to do.
    let again = diff(want, &dp.dump().expect("dump"));
    assert!(again.is_empty(), "not converged: {again:?}");
    plan
}

/// Waits up to 5 s for an event matching `pred`.
fn wait_event(rx: &mut EventReceiver, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match rx.try_recv() {
            Ok(ev) if pred(&ev) => return ev,
            Ok(ev) => seen.push(ev),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    panic!("no {what} event within 5 s; saw {seen:?}");
}

fn state_a() -> FibState {
    let mut st = FibState::default();
    st.fdb.insert(fk("02:00:00:00:00:01"), remote("10.0.0.2"));
    st.fdb.insert(fk("02:00:00:00:00:02"), remote("10.0.0.2"));
    st.fdb.insert(fk("02:00:00:00:00:03"), remote("10.0.0.3"));
    st.flood.insert((VNI, ip("10.0.0.2")));
    st.flood.insert((VNI, ip("10.0.0.3")));
    st.neigh
        .insert(nk("192.168.100.21"), mac("02:00:00:00:00:01"));
    st.neigh
        .insert(nk("192.168.100.23"), mac("02:00:00:00:00:03"));
    st
}

#[test]
fn local_mac_learned_from_host_traffic() {
    require_root();
    let leaf = Netns::new("leaf");
    let host = Netns::new("host");
    leaf.leaf();
    // No IPv6 on the host: its DAD/RS frames would teach the bridge the MAC before the
    // test looks.
    host.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    leaf.run(&format!(
        "ip link add name vh0 type veth peer name eth0 netns {}",
        host.name
    ));
    leaf.run("ip link set vh0 master br100");
    leaf.run("ip link set vh0 up");
    host.run("ip addr add 192.168.100.10/24 dev eth0");
    host.run("ip link set eth0 up");
    let host_mac = mac(&s(&host.json("ip -j link show eth0")[0], "address"));
    let vh0 = leaf.json("ip -j link show vh0")[0]["ifindex"]
        .as_u64()
        .unwrap() as u32;

    let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
    let mut rx = dp.subscribe().unwrap();
    let before = dp.dump().unwrap();
    let vx = before
        .topology
        .vxlans
        .values()
        .next()
        .expect("vxlan100 found");
    assert_eq!(
        (vx.name.as_str(), vx.vni, vx.local, vx.dstport, vx.learning),
        ("vxlan100", Some(VNI), Some(ip("10.0.0.1")), 4789, false)
    );
    let br = before
        .topology
        .bridges
        .get(&vx.master.unwrap())
        .expect("master is a bridge");
    assert_eq!(br.name, "br100");
    assert!(br.addrs.contains(&(ip("192.168.100.1"), 24)));
    assert_eq!(
        before.topology.ports.get(&vh0).map(|p| p.master),
        Some(br.ifindex)
    );
    assert!(!before.local.macs.contains_key(&FdbKey {
        vni: VNI,
        mac: host_mac
    }));

    host.run("ping -c 2 -W 2 192.168.100.1");

    let ev = wait_event(
        &mut rx,
        "LocalMacAdded",
        |e| matches!(e, Event::LocalMacAdded { mac, .. } if *mac == host_mac),
    );
    assert_eq!(
        ev,
        Event::LocalMacAdded {
            vni: VNI,
            mac: host_mac,
            port: vh0,
            sticky: false
        }
    );
    wait_event(&mut rx, "LocalNeighAdded", |e| {
        *e == Event::LocalNeighAdded {
            vni: VNI,
            ip: ip("192.168.100.10"),
            mac: host_mac,
        }
    });

    let snap = dp.dump().unwrap();
    let key = FdbKey {
        vni: VNI,
        mac: host_mac,
    };
    assert_eq!(snap.local.macs.get(&key).map(|l| l.port), Some(vh0));
    assert_eq!(snap.local.neigh.get(&nk("192.168.100.10")), Some(&host_mac));
    assert!(snap.owned.is_empty());

    // Local wins: a remote route for the host's MAC is not programmed.
    let mut want = FibState::default();
    want.fdb.insert(key, remote("10.0.0.2"));
    let plan = diff(&want, &snap);
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(plan.skipped.local_wins, 1);

    // The MAC goes away (as when it ages out): withdrawn.
    leaf.run(&format!("bridge fdb del {host_mac} dev vh0 master"));
    wait_event(&mut rx, "LocalMacRemoved", |e| {
        *e == Event::LocalMacRemoved {
            vni: VNI,
            mac: host_mac,
        }
    });
}

#[test]
fn programs_remote_state_like_frr_and_reconciles_changes() {
    require_root();
    let leaf = Netns::new("leaf");
    leaf.leaf();
    let base_fdb = fdb_rows(&leaf);
    let base_neigh = neigh_rows(&leaf);

    let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
    let a = state_a();
    let plan = reconcile(&mut dp, &a);
    assert_eq!(plan.ops.len(), 7);
    let (fdb, neigh) = frr_rows(&a);
    assert_eq!(fdb_rows(&leaf), union(&base_fdb, &fdb));
    assert_eq!(neigh_rows(&leaf), union(&base_neigh, &neigh));

    // MAC 1 moved to VTEP 3; VTEP 2 gone with its MAC 2.
    let mut b = FibState::default();
    b.fdb.insert(fk("02:00:00:00:00:01"), remote("10.0.0.3"));
    b.fdb.insert(fk("02:00:00:00:00:03"), remote("10.0.0.3"));
    b.flood.insert((VNI, ip("10.0.0.3")));
    b.neigh = a.neigh.clone();
    let plan = reconcile(&mut dp, &b);
    assert_eq!(
        plan.ops,
        vec![
            Op::FdbReplace {
                key: fk("02:00:00:00:00:01"),
                dest: remote("10.0.0.3")
            },
            Op::FdbDelete {
                key: fk("02:00:00:00:00:02"),
                vtep: ip("10.0.0.2")
            },
            Op::FloodDelete {
                vni: VNI,
                vtep: ip("10.0.0.2")
            },
        ]
    );
    let (fdb, neigh) = frr_rows(&b);
    assert_eq!(fdb_rows(&leaf), union(&base_fdb, &fdb));
    assert_eq!(neigh_rows(&leaf), union(&base_neigh, &neigh));
    let c = dp.counters();
    assert_eq!(c.ops_applied, 10);
    assert_eq!(c.op_errors, 0);
    assert!(c.batches >= 2 && c.batches <= 4, "{c:?}");
}

#[test]
fn hand_made_entries_survive_and_restart_removes_stale() {
    require_root();
    let leaf = Netns::new("leaf");
    leaf.leaf();
    leaf.run("bridge fdb add 02:00:00:00:00:aa dev vxlan100 dst 10.0.0.9 self permanent");
    leaf.run("ip neigh add 192.168.100.50 lladdr 02:00:00:00:00:bb dev br100 nud permanent");
    let base_fdb = fdb_rows(&leaf);
    let base_neigh = neigh_rows(&leaf);

    let a = state_a();
    {
        let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
        // The hand-made entries are seen as foreign, not ours.
        let snap = dp.dump().unwrap();
        assert!(snap.owned.is_empty());
        assert!(snap.foreign.fdb.contains(&fk("02:00:00:00:00:aa")));
        assert!(snap.foreign.neigh.contains(&nk("192.168.100.50")));
        reconcile(&mut dp, &a);
    } // "crash": the first instance is gone, its entries stay in the kernel.

    let (fdb, neigh) = frr_rows(&a);
    assert_eq!(fdb_rows(&leaf), union(&base_fdb, &fdb));

    let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
    let mut rx = dp.subscribe().unwrap();
    let snap = dp.dump().unwrap();
    assert_eq!(
        snap.owned, a,
        "ownership recovered from the kernel after restart"
    );

    // The new instance wants less: MAC 1 and VTEP 2 only, no neighbours.
    let mut b = FibState::default();
    b.fdb.insert(fk("02:00:00:00:00:01"), remote("10.0.0.2"));
    b.flood.insert((VNI, ip("10.0.0.2")));
    let plan = reconcile(&mut dp, &b);
    assert_eq!(plan.ops.len(), 5, "{plan:?}");
    let (fdb, neigh_b) = frr_rows(&b);
    assert_eq!(fdb_rows(&leaf), union(&base_fdb, &fdb));
    assert_eq!(neigh_rows(&leaf), union(&base_neigh, &neigh_b));
    assert!(neigh_b.is_empty() && !neigh.is_empty());

    // Somebody deletes one of ours by hand: the monitor says so.
    leaf.run("bridge fdb del 02:00:00:00:00:01 dev vxlan100 dst 10.0.0.2 self");
    wait_event(&mut rx, "OwnedRemoved", |e| {
        *e == Event::OwnedRemoved(OwnedEntry::Fdb(fk("02:00:00:00:00:01")))
    });
    reconcile(&mut dp, &b);

    // The device disappears under a running instance: per-op errors, nothing fatal.
    leaf.run("ip link del vxlan100");
    let plan = Plan {
        ops: vec![
            Op::FdbReplace {
                key: fk("02:00:00:00:00:07"),
                dest: remote("10.0.0.2"),
            },
            Op::FloodAppend {
                vni: VNI,
                vtep: ip("10.0.0.4"),
            },
            Op::NeighReplace {
                key: nk("192.168.100.60"),
                mac: mac("02:00:00:00:00:07"),
            },
        ],
        ..Default::default()
    };
    let report = dp.apply(&plan);
    let errs: Vec<(usize, String)> = report
        .errors
        .iter()
        .map(|e| (e.index, e.error.to_string()))
        .collect();
    let gone = FibError::NoDevice.to_string();
    assert_eq!(errs, [(0, gone.clone()), (1, gone)], "{report:?}");
    assert_eq!(
        report.applied, 1,
        "the SVI still exists: the neighbour goes in"
    );
    wait_event(
        &mut rx,
        "Topology",
        |e| matches!(e, Event::Topology(t) if t.vxlans.is_empty()),
    );
    // After a dump the VNI is unknown: planned ops for it are skipped, not attempted.
    let snap = dp.dump().unwrap();
    assert_eq!(diff(&b, &snap).skipped.unknown_vni, 2);
}
