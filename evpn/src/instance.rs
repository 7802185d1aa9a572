//! Per-VNI EVPN instances (MAC-VRFs): RD, route targets and the local VTEP, derived the
//! way FRR 8.4 derives them, plus the route-target index used on import.
//!
//! # Auto RD
//! Type 1, `router-id:N`. FRR takes N from an internal index space in which index 1 is
//! the default BGP instance's own RD, so the first VNI gets 2 (seen on the wire:
//! `10.0.0.1:2`). evpnd keeps the same space: a VNI that appears gets the lowest free index
//! (at least 2), VNIs appearing together are served in ascending VNI order, a VNI keeps its index
//! for as long as it exists, and a VNI that goes away frees it. So RDs never collide between
//! VNIs, the single-VNI case matches FRR byte for byte, and RDs only change on restart or
//! when a VNI is deleted and re-created (as with FRR).
//!
//! # Auto RT
//! `(AS & 0xFFFF):VNI` in the 2-octet-AS form, exported and imported. On import an auto RT
//! matches any 2-octet-AS route target whose value is the VNI, whatever its AS: FRR masks
//! the global administrator when it looks up auto RTs, which is what lets an eBGP fabric
//! (one AS per leaf, so 65001:100 and 65002:100) work without configuration. Explicit
//! import RTs match exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::extcomm::{ExtendedCommunity, RouteTarget};
use bgp::packet::types::RouteDistinguisher;
use fib::{Topology, Vni};
use serde::{Deserialize, Serialize};

use crate::config::EvpnConfig;

/// First auto-RD index a VNI can get (FRR: 1 is the BGP instance's own).
pub const FIRST_RD_INDEX: u16 = 2;

/// An import route target and how it matches.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportRt {
    /// Derived: matches `*:VNI` (2-octet-AS form, any AS).
    Auto(RouteTarget),
    /// Configured: matches exactly.
    Explicit(RouteTarget),
}

/// One EVPN instance: a VNI we serve.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EvpnInstance {
    pub vni: Vni,
    pub rd: RouteDistinguisher,
    /// The auto-RD index, when the RD is derived.
    pub rd_index: Option<u16>,
    pub import_rts: Vec<ImportRt>,
    pub export_rts: Vec<RouteTarget>,
    /// Our VTEP for this VNI: next hop and type-3 originator of what we originate.
    pub vtep: IpAddr,
}

/// The auto route target of `vni`: `(asn & 0xFFFF):vni`.
pub fn auto_route_target(asn: u32, vni: Vni) -> RouteTarget {
    RouteTarget::As2 {
        // FRR uses the low 16 bits even for a 4-octet AS.
        asn: (asn & 0xffff) as u16,
        value: vni.0,
    }
}

/// The VNIs a route is imported into: nearly always one, so no heap for that case.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum VniSet {
    #[default]
    None,
    One(Vni),
    Many(Box<[Vni]>),
}

impl VniSet {
    pub fn as_slice(&self) -> &[Vni] {
        match self {
            Self::None => &[],
            Self::One(v) => std::slice::from_ref(v),
            Self::Many(v) => v,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Self::None)
    }

    fn from_sorted(mut v: Vec<Vni>) -> Self {
        v.dedup();
        match v.as_slice() {
            [] => Self::None,
            [one] => Self::One(*one),
            _ => Self::Many(v.into_boxed_slice()),
        }
    }
}

/// All instances plus the indexes that the import path and the loop checks need.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Instances {
    router_id: Option<Ipv4Addr>,
    by_vni: BTreeMap<Vni, EvpnInstance>,
    /// VNIs whose import RT is the auto one (matched on the value part).
    auto_import: HashSet<Vni>,
    /// Explicit import RT -> VNIs (several VNIs may share one).
    explicit_import: HashMap<RouteTarget, Vec<Vni>>,
    /// Our VTEP addresses (usually one).
    vteps: Vec<IpAddr>,
}

impl Instances {
    /// Instances for the VNIs in `topology` that `config` selects. A VNI is served when
    /// its VXLAN device is up and enslaved to a bridge and a VTEP address is known
    /// (config, else the device's `local`). `previous` keeps auto-RD indexes stable.
    pub fn build(config: &EvpnConfig, topology: &Topology, previous: &Instances) -> Self {
        let mut vteps = BTreeMap::new();
        for (vni, binding) in topology.vnis() {
            if !config.advertise.includes(vni) || binding.bridge.is_none() {
                continue;
            }
            let Some(dev) = topology.vxlans.get(&binding.vxlan) else {
                continue;
            };
            if !dev.up {
                continue;
            }
            if let Some(vtep) = config.vtep.or(dev.local) {
                vteps.insert(vni, vtep);
            }
        }
        Self::from_vteps(config, &vteps, previous)
    }

    /// Instances for exactly these VNIs (VNI -> local VTEP).
    pub fn from_vteps(
        config: &EvpnConfig,
        vteps: &BTreeMap<Vni, IpAddr>,
        previous: &Instances,
    ) -> Self {
        // Indexes of VNIs that stay keep their value; the rest are allocated afterwards.
        let mut index: BTreeMap<Vni, u16> = BTreeMap::new();
        for vni in vteps.keys() {
            if let Some(i) = previous.by_vni.get(vni).and_then(|p| p.rd_index) {
                if config.vni.get(vni).and_then(|c| c.rd).is_none() {
                    index.insert(*vni, i);
                }
            }
        }
        let mut used: Vec<u16> = index.values().copied().collect();
        used.sort_unstable();
        let mut out = Instances {
            router_id: Some(config.router_id),
            ..Default::default()
        };
        for (&vni, &vtep) in vteps {
            let vc = config.vni.get(&vni);
            let (rd, rd_index) = match vc.and_then(|c| c.rd) {
                Some(rd) => (rd, None),
                None => {
                    let i = match index.get(&vni) {
                        Some(i) => *i,
                        None => match lowest_free(&used) {
                            Some(i) => {
                                let at = used.partition_point(|u| *u < i);
                                used.insert(at, i);
                                i
                            }
                            // 65534 VNIs with auto RDs: no index left, so no instance.
                            None => continue,
                        },
                    };
                    let rd = RouteDistinguisher::Ipv4 {
                        addr: config.router_id,
                        number: i,
                    };
                    (rd, Some(i))
                }
            };
            if !out.vteps.contains(&vtep) {
                out.vteps.push(vtep);
            }
            let auto = auto_route_target(config.asn, vni);
            let import_rts = match vc.map(|c| c.import_rt.as_slice()) {
                Some(list) if !list.is_empty() => {
                    for rt in list {
                        let vnis = out.explicit_import.entry(*rt).or_default();
                        if !vnis.contains(&vni) {
                            vnis.push(vni);
                        }
                    }
                    list.iter().copied().map(ImportRt::Explicit).collect()
                }
                _ => {
                    out.auto_import.insert(vni);
                    vec![ImportRt::Auto(auto)]
                }
            };
            let export_rts = match vc.map(|c| c.export_rt.as_slice()) {
                Some(list) if !list.is_empty() => list.to_vec(),
                _ => vec![auto],
            };
            out.by_vni.insert(
                vni,
                EvpnInstance {
                    vni,
                    rd,
                    rd_index,
                    import_rts,
                    export_rts,
                    vtep,
                },
            );
        }
        out
    }

    pub fn get(&self, vni: Vni) -> Option<&EvpnInstance> {
        self.by_vni.get(&vni)
    }

    pub fn iter(&self) -> impl Iterator<Item = &EvpnInstance> {
        self.by_vni.values()
    }

    pub fn len(&self) -> usize {
        self.by_vni.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_vni.is_empty()
    }

    /// The VNIs whose import RTs match any route target among `ext`.
    pub fn importing(&self, ext: &[ExtendedCommunity]) -> VniSet {
        let mut first: Option<Vni> = None;
        let mut more: Vec<Vni> = Vec::new();
        let mut add = |vni: Vni| match first {
            None => first = Some(vni),
            Some(f) if f == vni => {}
            Some(_) => more.push(vni),
        };
        for c in ext {
            let Some(rt) = c.as_route_target() else {
                continue;
            };
            if let RouteTarget::As2 { value, .. } = rt {
                if self.auto_import.contains(&Vni(value)) {
                    add(Vni(value));
                }
            }
            if let Some(vnis) = self.explicit_import.get(&rt) {
                for v in vnis {
                    add(*v);
                }
            }
        }
        match first {
            None => VniSet::None,
            Some(f) if more.is_empty() => VniSet::One(f),
            Some(f) => {
                more.push(f);
                more.sort_unstable();
                VniSet::from_sorted(more)
            }
        }
    }

    /// Whether `rd` is one of ours: type 1 with our router id (every auto RD). Explicit
    /// RDs are not counted: fabrics often configure the same one on every leaf, and dropping
    /// by it would drop the other leaves' routes; the next-hop and originator checks cover
    /// our own routes there.
    pub fn is_own_rd(&self, rd: &RouteDistinguisher) -> bool {
        matches!(rd, RouteDistinguisher::Ipv4 { addr, .. } if Some(*addr) == self.router_id)
    }

    /// Whether `ip` is the VTEP of one of our instances.
    pub fn is_own_vtep(&self, ip: &IpAddr) -> bool {
        self.vteps.contains(ip)
    }

    pub fn router_id(&self) -> Option<Ipv4Addr> {
        self.router_id
    }
}

/// Lowest index >= FIRST_RD_INDEX absent from the sorted `used`.
fn lowest_free(used: &[u16]) -> Option<u16> {
    let mut want = FIRST_RD_INDEX;
    for &u in used {
        if u < want {
            continue;
        }
        if u > want {
            break;
        }
        want = want.checked_add(1)?;
    }
    Some(want)
}

#[cfg(test)]
mod tests;
