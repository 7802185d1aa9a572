//! Kernel tests (root): each builds its own namespaces (`evt-fib-*`, removed on drop),
//! drives the real `NetlinkDataplane`, and checks the kernel with `bridge -j fdb show` /
//! `ip -j neigh show`, parsed as JSON.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{require_root, Netns};
use fib::{
    diff, Dataplane, Event, EventReceiver, FdbKey, FibError, FibState, Mac, MonitorConfig,
    NeighKey, NetlinkDataplane, Op, OwnedEntry, Plan, Reconciler, RemoteFdb, Vni,
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
            let src_vni = e
                .get("src_vni")
                .and_then(Value::as_u64)
                .map(|v| format!(" src_vni {v}"))
                .unwrap_or_default();
            format!(
                "{} dev {} dst {} flags [{}] master {} state {}{src_vni}",
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
        if d.sticky {
            // zebra: no extern_learn at all for static MACs; ours keeps it on the vxlan
            // row as the ownership mark, the bridge row is sticky static like zebra's.
            fdb.insert(format!(
                "{} dev vxlan100 dst {} flags [self,extern_learn,sticky] master - state static",
                k.mac, d.vtep
            ));
            fdb.insert(format!(
                "{} dev vxlan100 dst - flags [sticky] master br100 state static",
                k.mac
            ));
            continue;
        }
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
    st.neigh
        .insert(nk("fd00:100::21"), mac("02:00:00:00:00:01"));
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
    host.no_ipv6();
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

    // The VXLAN device goes down: the new topology says so.
    leaf.run("ip link set vxlan100 down");
    wait_event(
        &mut rx,
        "Topology (vxlan100 down)",
        |e| matches!(e, Event::Topology(t) if t.vxlans.values().all(|v| !v.up)),
    );
}

#[test]
fn monitor_overflow_becomes_resync() {
    require_root();
    let leaf = Netns::new("leaf");
    leaf.leaf();
    leaf.run("ip link add name vh0 type veth peer name vh0p");
    leaf.run("ip link set vh0 master br100");
    let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
    // Tiny buffers, and nobody reading: the kernel must drop notifications.
    let mut rx = dp
        .subscribe_with(MonitorConfig {
            rcvbuf: 4096,
            queue: 2,
        })
        .unwrap();
    let batch = std::env::temp_dir().join(format!("{}.batch", leaf.name));
    let lines: String = (0..3000u32)
        .map(|i| {
            let b = i.to_be_bytes();
            format!(
                "fdb add 02:00:00:00:{:02x}:{:02x} dev vh0 master static sticky\n",
                b[2], b[3]
            )
        })
        .collect();
    std::fs::write(&batch, lines).unwrap();
    leaf.run(&format!("bridge -batch {}", batch.display()));
    let _ = std::fs::remove_file(&batch);
    wait_event(&mut rx, "Resync", |e| *e == Event::Resync);
    // After a resync the dump has everything the lost events would have said.
    let snap = dp.dump().unwrap();
    assert_eq!(snap.local.macs.len(), 3000);
    assert!(snap.local.macs.values().all(|l| l.sticky));
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
    assert_eq!(plan.ops.len(), 8, "{plan:?}");
    let (fdb, neigh) = frr_rows(&a);
    assert_eq!(fdb_rows(&leaf), union(&base_fdb, &fdb));
    assert_eq!(neigh_rows(&leaf), union(&base_neigh, &neigh));

    // MAC 1 moved to VTEP 3; VTEP 2 gone with its MAC 2.
    let mut b = FibState::default();
    b.fdb.insert(fk("02:00:00:00:00:01"), remote("10.0.0.3"));
    b.fdb.insert(fk("02:00:00:00:00:03"), remote("10.0.0.3"));
    b.flood.insert((VNI, ip("10.0.0.3")));
    b.neigh = a.neigh.clone();
    // A static (sticky) MAC too.
    b.fdb.insert(
        fk("02:00:00:00:00:05"),
        RemoteFdb {
            vtep: ip("10.0.0.3"),
            sticky: true,
        },
    );
    let plan = reconcile(&mut dp, &b);
    assert_eq!(
        plan.ops,
        vec![
            Op::FdbReplace {
                key: fk("02:00:00:00:00:01"),
                dest: remote("10.0.0.3")
            },
            Op::FdbReplace {
                key: fk("02:00:00:00:00:05"),
                dest: RemoteFdb {
                    vtep: ip("10.0.0.3"),
                    sticky: true
                }
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
    assert_eq!(c.ops_applied, 12);
    // Withdraw everything (the sticky MAC's two rows too): back to the bare kernel.
    reconcile(&mut dp, &FibState::default());
    assert_eq!(fdb_rows(&leaf), base_fdb);
    assert_eq!(neigh_rows(&leaf), base_neigh);
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
    assert_eq!(plan.ops.len(), 6, "{plan:?}");
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

#[test]
fn reconciler_loop_restores_hand_deleted_entries_without_dumping() {
    require_root();
    let leaf = Netns::new("leaf");
    leaf.leaf();
    let base_fdb = fdb_rows(&leaf);
    let mut r = Reconciler::new(NetlinkDataplane::in_netns(leaf.path()).unwrap());
    let mut rx = r.subscribe().unwrap();
    let a = state_a();
    r.set_desired(a.clone());
    let s = r.sync().unwrap();
    assert!(s.dumped && s.apply.is_ok() && s.planned == 8, "{s:?}");

    leaf.run("bridge fdb del 02:00:00:00:00:03 dev vxlan100 dst 10.0.0.3 self");
    leaf.run("bridge fdb del 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.2 self");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = 0;
    while seen < 2 && Instant::now() < deadline {
        match rx.try_recv() {
            Ok(ev) => {
                if r.handle(&ev) {
                    seen += 1;
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    assert_eq!(seen, 2, "both removals reported as due");
    let s = r.sync().unwrap();
    assert!(!s.dumped, "restored from the cached view");
    assert_eq!(s.planned, 2, "{s:?}");
    let (fdb, _) = frr_rows(&a);
    // The bridge twin of MAC 3 stayed; the vxlan row and the flood VTEP are back.
    assert_eq!(fdb_rows(&leaf), union(&base_fdb, &fdb));
    assert_eq!(r.counters().dumps, 1);
}

/// One `external vnifilter` device carrying VNIs 100-101 (no bridge: this kernel has no
/// VLAN-aware bridge, so only the VXLAN side of that layout can be exercised).
#[test]
fn vnifilter_device_carries_several_vnis() {
    require_root();
    let leaf = Netns::new("vf");
    // No IPv6 address events: the VNI filter change below must be noticed on its own.
    leaf.no_ipv6();
    leaf.run("ip link add name vxlan0 type vxlan dstport 4789 local 10.0.0.1 external vnifilter nolearning");
    leaf.run("bridge vni add dev vxlan0 vni 100-101");
    leaf.run("ip link set vxlan0 up");
    let base = fdb_rows(&leaf);
    let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
    let mut rx = dp.subscribe().unwrap();
    let snap = dp.dump().unwrap();
    let vnis: Vec<u32> = snap.topology.vnis().keys().map(|v| v.0).collect();
    assert_eq!(vnis, [100, 101]);
    let b = snap.topology.binding(Vni(101)).unwrap();
    assert!(b.external && b.bridge.is_none());

    let k = |vni: u32, m: &str| FdbKey {
        vni: Vni(vni),
        mac: mac(m),
    };
    let mut want = FibState::default();
    want.fdb
        .insert(k(100, "02:00:00:00:00:01"), remote("10.0.0.2"));
    // The same MAC in another VNI is another entry.
    want.fdb
        .insert(k(101, "02:00:00:00:00:01"), remote("10.0.0.3"));
    want.flood.insert((Vni(100), ip("10.0.0.2")));
    want.flood.insert((Vni(101), ip("10.0.0.3")));
    // No SVI for these VNIs: skipped, not failed.
    want.neigh.insert(
        NeighKey {
            vni: Vni(100),
            ip: ip("192.168.100.5"),
        },
        mac("02:00:00:00:00:01"),
    );
    let plan = reconcile(&mut dp, &want);
    assert_eq!((plan.ops.len(), plan.skipped.unknown_vni), (4, 1));

    let rows: BTreeSet<String> = fdb_rows(&leaf).difference(&base).cloned().collect();
    let expect: BTreeSet<String> = [
        "02:00:00:00:00:01 dev vxlan0 dst 10.0.0.2 flags [self,extern_learn] master - state  src_vni 100",
        "02:00:00:00:00:01 dev vxlan0 dst 10.0.0.3 flags [self,extern_learn] master - state  src_vni 101",
        "00:00:00:00:00:00 dev vxlan0 dst 10.0.0.2 flags [self,extern_learn] master - state permanent src_vni 100",
        "00:00:00:00:00:00 dev vxlan0 dst 10.0.0.3 flags [self,extern_learn] master - state permanent src_vni 101",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(rows, expect);

    // Withdraw VNI 101's state; VNI 100's stays.
    want.fdb.remove(&k(101, "02:00:00:00:00:01"));
    want.flood.remove(&(Vni(101), ip("10.0.0.3")));
    let plan = reconcile(&mut dp, &want);
    assert_eq!(plan.ops.len(), 2);
    let rows: BTreeSet<String> = fdb_rows(&leaf).difference(&base).cloned().collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.ends_with("src_vni 100")), "{rows:?}");

    // A VNI added to the filter while we run: a new topology with it.
    leaf.run("bridge vni add dev vxlan0 vni 102");
    wait_event(
        &mut rx,
        "Topology with VNI 102",
        |e| matches!(e, Event::Topology(t) if t.binding(Vni(102)).is_some()),
    );
}

/// A host that moved to another leaf: its MAC is still on a local bridge port here, the
/// EVPN layer marks our remote entry `supersede_local`, and the replace moves the bridge
/// row from the host port to the VXLAN port at once (no 300 s ageing).
#[test]
fn superseded_local_mac_is_replaced_by_remote_entry() {
    require_root();
    let leaf = Netns::new("move-leaf");
    let host = Netns::new("move-host");
    leaf.leaf();
    host.no_ipv6();
    leaf.run(&format!(
        "ip link add name vh0 type veth peer name eth0 netns {}",
        host.name
    ));
    leaf.run("ip link set vh0 master br100");
    leaf.run("ip link set vh0 up");
    host.run("ip addr add 192.168.100.10/24 dev eth0");
    host.run("ip link set eth0 up");
    let host_mac = mac(&s(&host.json("ip -j link show eth0")[0], "address"));
    let key = FdbKey {
        vni: VNI,
        mac: host_mac,
    };
    let mut dp = NetlinkDataplane::in_netns(leaf.path()).unwrap();
    host.run("ping -c 2 -W 2 192.168.100.1");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dp.dump().unwrap().local.macs.contains_key(&key) {
        assert!(Instant::now() < deadline, "host MAC never learned on vh0");
        std::thread::sleep(Duration::from_millis(50));
    }
    // (The host stays up: a port going down flushes its learned rows. It is silent after
    // the ping, IPv6 being off.)

    let mut want = FibState::default();
    want.fdb.insert(key, remote("10.0.0.2"));
    // Unmarked: the local entry wins.
    let snap = dp.dump().unwrap();
    assert!(diff(&want, &snap).is_empty());

    want.supersede_local.insert(key);
    let plan = reconcile(&mut dp, &want);
    assert_eq!(
        plan.ops,
        vec![Op::FdbReplace {
            key,
            dest: remote("10.0.0.2")
        }]
    );
    let rows: BTreeSet<String> = fdb_rows(&leaf)
        .into_iter()
        .filter(|r| r.starts_with(&host_mac.to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            format!(
                "{host_mac} dev vxlan100 dst 10.0.0.2 flags [self,extern_learn] master - state "
            ),
            format!("{host_mac} dev vxlan100 dst - flags [extern_learn] master br100 state "),
        ]
        .into_iter()
        .collect::<BTreeSet<_>>(),
        "the bridge row left vh0 for vxlan100"
    );
    let snap = dp.dump().unwrap();
    assert!(!snap.local.macs.contains_key(&key));
    assert_eq!(snap.owned.fdb.get(&key), Some(&remote("10.0.0.2")));
}
