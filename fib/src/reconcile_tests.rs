//! Table tests for `diff`: each case is (name, desired, actual, expected ops, expected skips).

use super::*;
use crate::model::*;
use std::net::Ipv4Addr;

fn mac(last: u8) -> Mac {
    Mac([0x02, 0, 0, 0, 0, last])
}
fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}
fn hip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 100, last))
}
fn fk(vni: u32, m: u8) -> FdbKey {
    FdbKey {
        vni: Vni(vni),
        mac: mac(m),
    }
}
fn nk(vni: u32, h: u8) -> NeighKey {
    NeighKey {
        vni: Vni(vni),
        ip: hip(h),
    }
}
fn remote(v: u8) -> RemoteFdb {
    RemoteFdb {
        vtep: ip(v),
        sticky: false,
    }
}

/// VNI 100: vxlan100 (11) in br100 (10). VNI 200: vxlan200 (21) in no bridge.
fn topo() -> Topology {
    let mut t = Topology::default();
    t.bridges.insert(
        10,
        Bridge {
            name: "br100".into(),
            ifindex: 10,
            mac: None,
            up: true,
            addrs: vec![],
        },
    );
    for (ifx, vni, master) in [(11, 100, Some(10)), (21, 200, None)] {
        t.vxlans.insert(
            ifx,
            VxlanDevice {
                name: format!("vxlan{vni}"),
                ifindex: ifx,
                vni: Some(Vni(vni)),
                local: Some(ip(1)),
                dstport: 4789,
                learning: false,
                external: false,
                vnifilter: false,
                master,
                up: true,
            },
        );
    }
    t
}

#[derive(Default)]
struct Case {
    name: &'static str,
    desired: FibState,
    owned: FibState,
    foreign: ForeignState,
    local: LocalState,
    ops: Vec<Op>,
    skipped: Skipped,
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let actual = Snapshot {
            topology: topo(),
            owned: c.owned,
            foreign: c.foreign,
            local: c.local,
        };
        let plan = diff(&c.desired, &actual);
        assert_eq!(plan.ops, c.ops, "case {}: ops", c.name);
        assert_eq!(plan.skipped, c.skipped, "case {}: skipped", c.name);
    }
}

fn fdb(entries: &[(u32, u8, u8)]) -> BTreeMap<FdbKey, RemoteFdb> {
    entries
        .iter()
        .map(|&(v, m, t)| (fk(v, m), remote(t)))
        .collect()
}

fn local_mac(vni: u32, m: u8) -> LocalState {
    let mut l = LocalState::default();
    l.macs.insert(
        fk(vni, m),
        LocalMac {
            port: 3,
            sticky: false,
        },
    );
    l
}

#[test]
fn fdb_table() {
    run(vec![
        Case {
            name: "nothing to do",
            ..Default::default()
        },
        Case {
            name: "add two, keep one",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2), (100, 2, 3), (100, 3, 2)]),
                ..Default::default()
            },
            owned: FibState {
                fdb: fdb(&[(100, 2, 3)]),
                ..Default::default()
            },
            ops: vec![
                Op::FdbReplace {
                    key: fk(100, 1),
                    dest: remote(2),
                },
                Op::FdbReplace {
                    key: fk(100, 3),
                    dest: remote(2),
                },
            ],
            ..Default::default()
        },
        Case {
            name: "moved MAC is replaced in place, stale one deleted",
            desired: FibState {
                fdb: fdb(&[(100, 1, 3)]),
                ..Default::default()
            },
            owned: FibState {
                fdb: fdb(&[(100, 1, 2), (100, 9, 2)]),
                ..Default::default()
            },
            ops: vec![
                Op::FdbReplace {
                    key: fk(100, 1),
                    dest: remote(3),
                },
                Op::FdbDelete {
                    key: fk(100, 9),
                    vtep: ip(2),
                },
            ],
            ..Default::default()
        },
        Case {
            name: "sticky change is a replace",
            desired: FibState {
                fdb: [(
                    fk(100, 1),
                    RemoteFdb {
                        vtep: ip(2),
                        sticky: true,
                    },
                )]
                .into(),
                ..Default::default()
            },
            owned: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            ops: vec![Op::FdbReplace {
                key: fk(100, 1),
                dest: RemoteFdb {
                    vtep: ip(2),
                    sticky: true,
                },
            }],
            ..Default::default()
        },
        Case {
            name: "same MAC in two VNIs is two entries",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2), (200, 1, 3)]),
                ..Default::default()
            },
            ops: vec![
                Op::FdbReplace {
                    key: fk(100, 1),
                    dest: remote(2),
                },
                Op::FdbReplace {
                    key: fk(200, 1),
                    dest: remote(3),
                },
            ],
            ..Default::default()
        },
        Case {
            name: "unknown VNI skipped, not deleted elsewhere",
            desired: FibState {
                fdb: fdb(&[(300, 1, 2)]),
                ..Default::default()
            },
            skipped: Skipped {
                unknown_vni: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "foreign entry wins over desired, never deleted",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            foreign: ForeignState {
                fdb: [fk(100, 1), fk(100, 7)].into(),
                ..Default::default()
            },
            skipped: Skipped {
                foreign: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "all-zero MAC is not a remote MAC",
            desired: FibState {
                fdb: [(
                    FdbKey {
                        vni: Vni(100),
                        mac: Mac::ZERO,
                    },
                    remote(2),
                )]
                .into(),
                ..Default::default()
            },
            skipped: Skipped {
                invalid: 1,
                ..Default::default()
            },
            ..Default::default()
        },
    ]);
}

#[test]
fn local_wins_table() {
    run(vec![
        Case {
            name: "local MAC is not programmed remotely",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2), (100, 2, 2)]),
                ..Default::default()
            },
            local: local_mac(100, 1),
            ops: vec![Op::FdbReplace {
                key: fk(100, 2),
                dest: remote(2),
            }],
            skipped: Skipped {
                local_wins: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "MAC moved here: our remote entry is removed",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            owned: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            local: local_mac(100, 1),
            ops: vec![Op::FdbDelete {
                key: fk(100, 1),
                vtep: ip(2),
            }],
            skipped: Skipped {
                local_wins: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "local in another VNI does not shadow",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            local: local_mac(200, 1),
            ops: vec![Op::FdbReplace {
                key: fk(100, 1),
                dest: remote(2),
            }],
            ..Default::default()
        },
        Case {
            name: "neighbour of a local MAC is not installed, ours removed",
            desired: FibState {
                neigh: [(nk(100, 10), mac(1)), (nk(100, 11), mac(1))].into(),
                ..Default::default()
            },
            owned: FibState {
                neigh: [(nk(100, 11), mac(1))].into(),
                ..Default::default()
            },
            local: local_mac(100, 1),
            ops: vec![Op::NeighDelete { key: nk(100, 11) }],
            skipped: Skipped {
                local_wins: 2,
                ..Default::default()
            },
            ..Default::default()
        },
    ]);
}

#[test]
fn supersede_local_table() {
    run(vec![
        Case {
            name: "moved away: remote entry replaces the local one, unmarked local still wins",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2), (100, 2, 2)]),
                supersede_local: [fk(100, 1)].into(),
                ..Default::default()
            },
            local: {
                let mut l = local_mac(100, 1);
                l.macs.extend(local_mac(100, 2).macs);
                l
            },
            ops: vec![Op::FdbReplace {
                key: fk(100, 1),
                dest: remote(2),
            }],
            skipped: Skipped {
                local_wins: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "marked, already ours, bridge relisted it locally: replaced again",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                supersede_local: [fk(100, 1)].into(),
                ..Default::default()
            },
            owned: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            local: local_mac(100, 1),
            ops: vec![Op::FdbReplace {
                key: fk(100, 1),
                dest: remote(2),
            }],
            ..Default::default()
        },
        Case {
            name: "marked, ours, no longer local: converged, nothing to do",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                supersede_local: [fk(100, 1)].into(),
                ..Default::default()
            },
            owned: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "neighbour of a superseded MAC is installed",
            desired: FibState {
                fdb: fdb(&[(100, 1, 2)]),
                neigh: [(nk(100, 10), mac(1))].into(),
                supersede_local: [fk(100, 1)].into(),
                ..Default::default()
            },
            local: local_mac(100, 1),
            ops: vec![
                Op::FdbReplace {
                    key: fk(100, 1),
                    dest: remote(2),
                },
                Op::NeighReplace {
                    key: nk(100, 10),
                    mac: mac(1),
                },
            ],
            ..Default::default()
        },
        Case {
            name: "mark without a desired entry does nothing; foreign still blocks",
            desired: FibState {
                fdb: fdb(&[(100, 3, 2)]),
                supersede_local: [fk(100, 1), fk(100, 3)].into(),
                ..Default::default()
            },
            local: local_mac(100, 1),
            foreign: ForeignState {
                fdb: [fk(100, 3)].into(),
                ..Default::default()
            },
            skipped: Skipped {
                foreign: 1,
                ..Default::default()
            },
            ..Default::default()
        },
    ]);
}

#[test]
fn flood_and_neigh_table() {
    run(vec![
        Case {
            name: "flood: append missing, delete gone, keep present",
            desired: FibState {
                flood: [(Vni(100), ip(2)), (Vni(100), ip(3))].into(),
                ..Default::default()
            },
            owned: FibState {
                flood: [(Vni(100), ip(3)), (Vni(100), ip(4))].into(),
                ..Default::default()
            },
            ops: vec![
                Op::FloodAppend {
                    vni: Vni(100),
                    vtep: ip(2),
                },
                Op::FloodDelete {
                    vni: Vni(100),
                    vtep: ip(4),
                },
            ],
            ..Default::default()
        },
        Case {
            name: "flood: foreign dst is neither appended nor deleted",
            desired: FibState {
                flood: [(Vni(100), ip(2))].into(),
                ..Default::default()
            },
            foreign: ForeignState {
                flood: [(Vni(100), ip(2)), (Vni(100), ip(5))].into(),
                ..Default::default()
            },
            skipped: Skipped {
                foreign: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "neighbour needs an SVI: VNI 200 has no bridge",
            desired: FibState {
                neigh: [(nk(100, 10), mac(1)), (nk(200, 10), mac(1))].into(),
                ..Default::default()
            },
            ops: vec![Op::NeighReplace {
                key: nk(100, 10),
                mac: mac(1),
            }],
            skipped: Skipped {
                unknown_vni: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Case {
            name: "neighbour MAC changed, stale removed, foreign kept",
            desired: FibState {
                neigh: [(nk(100, 10), mac(2)), (nk(100, 12), mac(3))].into(),
                ..Default::default()
            },
            owned: FibState {
                neigh: [(nk(100, 10), mac(1)), (nk(100, 11), mac(1))].into(),
                ..Default::default()
            },
            foreign: ForeignState {
                neigh: [nk(100, 12)].into(),
                ..Default::default()
            },
            ops: vec![
                Op::NeighReplace {
                    key: nk(100, 10),
                    mac: mac(2),
                },
                Op::NeighDelete { key: nk(100, 11) },
            ],
            skipped: Skipped {
                foreign: 1,
                ..Default::default()
            },
            ..Default::default()
        },
    ]);
}

#[test]
fn ordering_adds_before_deletes_neigh_around_fdb() {
    let desired = FibState {
        fdb: fdb(&[(100, 1, 2)]),
        flood: [(Vni(100), ip(2))].into(),
        neigh: [(nk(100, 10), mac(1))].into(),
        ..Default::default()
    };
    let owned = FibState {
        fdb: fdb(&[(100, 9, 3)]),
        flood: [(Vni(100), ip(3))].into(),
        neigh: [(nk(100, 19), mac(9))].into(),
        ..Default::default()
    };
    let actual = Snapshot {
        topology: topo(),
        owned,
        ..Default::default()
    };
    let plan = diff(&desired, &actual);
    let kinds: Vec<&str> = plan
        .ops
        .iter()
        .map(|o| match o {
            Op::FdbReplace { .. } => "fdb+",
            Op::FloodAppend { .. } => "flood+",
            Op::NeighReplace { .. } => "neigh+",
            Op::NeighDelete { .. } => "neigh-",
            Op::FdbDelete { .. } => "fdb-",
            Op::FloodDelete { .. } => "flood-",
        })
        .collect();
    assert_eq!(
        kinds,
        ["fdb+", "flood+", "neigh+", "neigh-", "fdb-", "flood-"]
    );
}

#[test]
fn diff_of_equal_states_is_empty_at_scale() {
    let mut s = FibState::default();
    for i in 0..100_000u32 {
        let b = i.to_be_bytes();
        s.fdb.insert(
            FdbKey {
                vni: Vni(100),
                mac: Mac([2, 0, b[0], b[1], b[2], b[3]]),
            },
            remote((i % 7) as u8 + 2),
        );
    }
    let actual = Snapshot {
        topology: topo(),
        owned: s.clone(),
        ..Default::default()
    };
    assert!(diff(&s, &actual).is_empty());
    let mut want = s.clone();
    want.fdb.pop_first();
    let plan = diff(&want, &actual);
    assert_eq!(plan.ops.len(), 1);
    assert!(matches!(plan.ops[0], Op::FdbDelete { .. }));
}
