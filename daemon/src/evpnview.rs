//! What `show vni`, `show macs` and `show fdb` answer: built from the EVPN service, the
//! kernel topology it last saw, and the fib task's view of the kernel.

use std::collections::BTreeMap;
use std::net::IpAddr;

use evpn::{EvpnService, ImportRt};
use fib::{FibState, Topology, Vni};
use serde::{Deserialize, Serialize};

use crate::fibtask::FdbView;

/// One line of `show vni`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VniView {
    pub vni: u32,
    pub bridge: Option<String>,
    pub vxlan: Option<String>,
    pub vtep: IpAddr,
    pub rd: String,
    pub import_rts: Vec<String>,
    pub export_rts: Vec<String>,
    pub local_macs: u64,
    pub remote_macs: u64,
}

/// One line of `show macs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacView {
    pub vni: u32,
    pub mac: String,
    /// `local` (learned on a bridge port) or `remote` (from a route).
    pub kind: String,
    /// Local: the bridge port.
    pub port: Option<String>,
    /// Remote: the VTEP it is behind.
    pub vtep: Option<IpAddr>,
    /// MAC mobility sequence (ours for a local MAC, the route's for a remote one).
    pub sequence: u32,
    pub sticky: bool,
    /// Frozen by duplicate address detection.
    pub duplicate: bool,
}

/// One entry of `show fdb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbRow {
    /// `mac` (remote MAC on the VXLAN device), `flood` (00:00:00:00:00:00 to a VTEP) or
    /// `neigh` (IP -> MAC on the SVI).
    pub kind: String,
    pub vni: u32,
    pub mac: Option<String>,
    pub ip: Option<IpAddr>,
    pub vtep: Option<IpAddr>,
    /// In the kernel as ours (the reconciler's view).
    pub programmed: bool,
    /// Wanted by the EVPN routes.
    pub desired: bool,
}

/// `show fdb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbReport {
    /// Programmed equals desired.
    pub in_sync: bool,
    /// False before the first sync (or while a re-dump is due).
    pub known: bool,
    pub entries: Vec<FdbRow>,
    pub syncs: u64,
    pub dumps: u64,
    pub resyncs: u64,
}

fn rt_text(r: &ImportRt) -> String {
    match r {
        // FRR prints the derived import RT with the AS it was derived from.
        ImportRt::Auto(rt) | ImportRt::Explicit(rt) => rt.to_string(),
    }
}

/// Bridge and VXLAN device names of each VNI in `t`.
fn devices(t: &Topology) -> BTreeMap<Vni, (Option<String>, String)> {
    let mut m = BTreeMap::new();
    for d in t.vxlans.values() {
        if let Some(vni) = d.vni {
            let br = d
                .master
                .and_then(|i| t.bridges.get(&i))
                .map(|b| b.name.clone());
            m.insert(vni, (br, d.name.clone()));
        }
    }
    for b in t.filtered.values() {
        let br = b
            .bridge
            .and_then(|i| t.bridges.get(&i))
            .map(|b| b.name.clone());
        let vx = t.vxlans.get(&b.vxlan).map(|d| d.name.clone());
        if let Some(vx) = vx {
            m.entry(b.vni).or_insert((br, vx));
        }
    }
    m
}

pub fn vnis(svc: &EvpnService, t: &Topology) -> Vec<VniView> {
    let dev = devices(t);
    let local = &svc.local().macs;
    let fib = svc.fib();
    let remote = &fib.fdb;
    svc.instances()
        .iter()
        .map(|i| {
            let (bridge, vxlan) = dev.get(&i.vni).cloned().unzip();
            VniView {
                vni: i.vni.0,
                bridge: bridge.flatten(),
                vxlan,
                vtep: i.vtep,
                rd: i.rd.to_string(),
                import_rts: i.import_rts.iter().map(rt_text).collect(),
                export_rts: i.export_rts.iter().map(ToString::to_string).collect(),
                local_macs: local.keys().filter(|k| k.vni == i.vni).count() as u64,
                remote_macs: remote.keys().filter(|k| k.vni == i.vni).count() as u64,
            }
        })
        .collect()
}

pub fn macs(svc: &EvpnService, t: &Topology, vni: Option<u32>) -> Vec<MacView> {
    let want = |v: Vni| vni.is_none_or(|n| n == v.0);
    let mob = svc.mobility();
    let mut out = Vec::new();
    for (k, m) in &svc.local().macs {
        if !want(k.vni) {
            continue;
        }
        let st = mob.get(k);
        out.push(MacView {
            vni: k.vni.0,
            mac: k.mac.to_string(),
            kind: "local".into(),
            port: Some(
                t.ports
                    .get(&m.port)
                    .map_or_else(|| format!("ifindex {}", m.port), |p| p.name.clone()),
            ),
            vtep: None,
            sequence: mob.advertised(k).map_or(0, |a| a.sequence),
            sticky: m.sticky,
            duplicate: st.is_some_and(|s| s.frozen()),
        });
    }
    for (k, r) in &svc.fib().fdb {
        if !want(k.vni) {
            continue;
        }
        let best = svc.importer().remote_best(k);
        out.push(MacView {
            vni: k.vni.0,
            mac: k.mac.to_string(),
            kind: "remote".into(),
            port: None,
            vtep: Some(r.vtep),
            sequence: best.map_or(0, |b| b.mobility.sequence),
            sticky: r.sticky,
            duplicate: mob.get(k).is_some_and(|s| s.frozen()),
        });
    }
    out.sort_by(|a, b| (a.vni, &a.mac, &a.kind).cmp(&(b.vni, &b.mac, &b.kind)));
    out
}

pub fn fdb(v: &FdbView) -> FdbReport {
    let empty = FibState::default();
    let prog = v.programmed.as_ref().unwrap_or(&empty);
    let d = &v.desired;
    let mut rows = Vec::new();
    let mut fdb_keys: Vec<_> = prog.fdb.keys().chain(d.fdb.keys()).copied().collect();
    fdb_keys.sort();
    fdb_keys.dedup();
    for k in fdb_keys {
        let (p, w) = (prog.fdb.get(&k), d.fdb.get(&k));
        rows.push(FdbRow {
            kind: "mac".into(),
            vni: k.vni.0,
            mac: Some(k.mac.to_string()),
            ip: None,
            vtep: w.or(p).map(|r| r.vtep),
            programmed: p.is_some() && (w.is_none() || p == w),
            desired: w.is_some(),
        });
    }
    let mut flood: Vec<_> = prog.flood.iter().chain(d.flood.iter()).copied().collect();
    flood.sort();
    flood.dedup();
    for (vni, vtep) in flood {
        rows.push(FdbRow {
            kind: "flood".into(),
            vni: vni.0,
            mac: Some("00:00:00:00:00:00".into()),
            ip: None,
            vtep: Some(vtep),
            programmed: prog.flood.contains(&(vni, vtep)),
            desired: d.flood.contains(&(vni, vtep)),
        });
    }
    let mut neigh: Vec<_> = prog.neigh.keys().chain(d.neigh.keys()).copied().collect();
    neigh.sort();
    neigh.dedup();
    for k in neigh {
        let (p, w) = (prog.neigh.get(&k), d.neigh.get(&k));
        rows.push(FdbRow {
            kind: "neigh".into(),
            vni: k.vni.0,
            mac: w.or(p).map(ToString::to_string),
            ip: Some(k.ip),
            vtep: None,
            programmed: p.is_some() && (w.is_none() || p == w),
            desired: w.is_some(),
        });
    }
    // supersede_local is a desired-only mark, never in a kernel view.
    let same = |p: &FibState| p.fdb == d.fdb && p.flood == d.flood && p.neigh == d.neigh;
    FdbReport {
        in_sync: v.programmed.as_ref().is_some_and(same),
        known: v.programmed.is_some(),
        entries: rows,
        syncs: v.syncs,
        dumps: v.dumps,
        resyncs: v.resyncs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fib::{FdbKey, Mac, RemoteFdb};
    use std::net::Ipv4Addr;

    fn key(n: u8) -> FdbKey {
        FdbKey {
            vni: Vni(100),
            mac: Mac([0, 0, 0x5e, 0, 0x53, n]),
        }
    }

    fn to(n: u8) -> RemoteFdb {
        RemoteFdb {
            vtep: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            sticky: false,
        }
    }

    #[test]
    fn fdb_report_marks_missing_stale_and_moved_entries() {
        let mut desired = FibState::default();
        desired.fdb.insert(key(1), to(1)); // programmed as wanted
        desired.fdb.insert(key(2), to(2)); // not programmed yet
        desired.fdb.insert(key(4), to(2)); // programmed to the old VTEP
        desired.flood.insert((Vni(100), to(1).vtep));
        let mut programmed = FibState::default();
        programmed.fdb.insert(key(1), to(1));
        programmed.fdb.insert(key(3), to(3)); // stale: no longer desired
        programmed.fdb.insert(key(4), to(1));
        programmed.flood.insert((Vni(100), to(1).vtep));
        let r = fdb(&FdbView {
            programmed: Some(programmed),
            desired,
            ..Default::default()
        });
        assert!(r.known && !r.in_sync);
        let row = |n: u8| {
            let mac = key(n).mac.to_string();
            r.entries
                .iter()
                .find(|e| e.kind == "mac" && e.mac.as_deref() == Some(&mac))
                .map(|e| (e.programmed, e.desired, e.vtep))
        };
        assert_eq!(row(1), Some((true, true, Some(to(1).vtep))));
        assert_eq!(row(2), Some((false, true, Some(to(2).vtep))));
        assert_eq!(row(3), Some((true, false, Some(to(3).vtep))));
        assert_eq!(row(4), Some((false, true, Some(to(2).vtep))));
        assert_eq!(r.entries.iter().filter(|e| e.kind == "flood").count(), 1);
    }

    #[test]
    fn equal_states_are_in_sync_and_unknown_view_is_not() {
        let mut s = FibState::default();
        s.fdb.insert(key(1), to(1));
        let r = fdb(&FdbView {
            programmed: Some(s.clone()),
            desired: s.clone(),
            ..Default::default()
        });
        assert!(r.in_sync && r.known);
        let r = fdb(&FdbView {
            programmed: None,
            desired: s,
            ..Default::default()
        });
        assert!(!r.in_sync && !r.known);
        assert!(r.entries.iter().all(|e| !e.programmed && e.desired));
    }
}
