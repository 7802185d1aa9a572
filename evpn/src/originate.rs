//! Origination: the routes this leaf advertises, built as FRR 8.4 builds them.
//!
//! - Type 3 per local VNI: Ethernet tag 0, originator = our VTEP, PMSI tunnel ingress
//!   replication (label = VNI, endpoint = VTEP).
//! - Type 2 per local MAC (MAC only) and per local MAC/IP pair: ESI 0, Ethernet tag 0,
//!   label1 = VNI, no label2 (no L3VNI).
//! - Next hop = our VTEP. Extended communities in FRR's order: encapsulation VXLAN, the
//!   export route targets, then MAC mobility when the sequence is above 0 or the MAC is
//!   static (sticky flag).
//!
//! [`full`] computes the whole set (resync, tests); the service keeps the same set up to
//! date per event and is tested to agree with it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use bgp::packet::evpn::{
    Esi, EvpnNlri, EvpnRouteKey, InclusiveMulticastEthernetTag, Label, MacIpAdvertisement,
};
use bgp::packet::extcomm::ExtendedCommunity;
use bgp::packet::pmsi::PmsiTunnel;
use bgp::packet::types::MacAddress;
use fib::{FdbKey, LocalState, Mac};

use crate::instance::{EvpnInstance, Instances};
use crate::route::{EvpnRoute, Mobility, PathAttrs};

/// Extended communities of a route of `inst`.
pub fn ext_communities(inst: &EvpnInstance, mobility: Option<Mobility>) -> Vec<ExtendedCommunity> {
    let mut v = Vec::with_capacity(2 + inst.export_rts.len());
    v.push(ExtendedCommunity::vxlan_encapsulation());
    v.extend(
        inst.export_rts
            .iter()
            .map(|rt| ExtendedCommunity::route_target(*rt)),
    );
    if let Some(m) = mobility {
        if m.sequence > 0 || m.sticky {
            v.push(ExtendedCommunity::mac_mobility(m.sequence, m.sticky));
        }
    }
    v
}

/// The type-3 (inclusive multicast Ethernet tag) route of `inst`.
pub fn imet_route(inst: &EvpnInstance) -> EvpnRoute {
    EvpnRoute {
        nlri: EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
            rd: inst.rd,
            ethernet_tag: 0,
            originator: inst.vtep,
        }),
        attrs: Arc::new(PathAttrs {
            next_hop: inst.vtep,
            ext_communities: ext_communities(inst, None),
            pmsi: Some(PmsiTunnel::ingress_replication(inst.vni.0, inst.vtep)),
        }),
    }
}

/// The type-2 NLRI for `mac` (and `ip`) in `inst`.
pub fn mac_ip_nlri(inst: &EvpnInstance, mac: Mac, ip: Option<IpAddr>) -> EvpnNlri {
    EvpnNlri::MacIp(MacIpAdvertisement {
        rd: inst.rd,
        esi: Esi::ZERO,
        ethernet_tag: 0,
        mac_len: 48,
        mac: MacAddress(mac.0),
        ip,
        label1: Label::from_vni(inst.vni.0),
        label2: None,
    })
}

/// Attributes of a type-2 route (shared by the MAC and MAC+IP routes of one MAC).
pub fn mac_ip_attrs(inst: &EvpnInstance, mobility: Mobility) -> Arc<PathAttrs> {
    Arc::new(PathAttrs {
        next_hop: inst.vtep,
        ext_communities: ext_communities(inst, Some(mobility)),
        pmsi: None,
    })
}

/// A type-2 route.
pub fn mac_ip_route(
    inst: &EvpnInstance,
    mac: Mac,
    ip: Option<IpAddr>,
    mobility: Mobility,
) -> EvpnRoute {
    EvpnRoute {
        nlri: mac_ip_nlri(inst, mac, ip),
        attrs: mac_ip_attrs(inst, mobility),
    }
}

/// Every route we should advertise. `advertised(key)` says whether and with which MAC
/// mobility a local MAC is advertised (the mobility table's decision).
pub fn full(
    instances: &Instances,
    local: &LocalState,
    advertised: &dyn Fn(&FdbKey) -> Option<Mobility>,
) -> BTreeMap<EvpnRouteKey, EvpnRoute> {
    let mut out = BTreeMap::new();
    let mut put = |r: EvpnRoute| {
        out.insert(r.key(), r);
    };
    for inst in instances.iter() {
        put(imet_route(inst));
    }
    for key in local.macs.keys() {
        if let (Some(inst), Some(m)) = (instances.get(key.vni), advertised(key)) {
            put(mac_ip_route(inst, key.mac, None, m));
        }
    }
    for (nk, mac) in &local.neigh {
        let fk = FdbKey {
            vni: nk.vni,
            mac: *mac,
        };
        if !local.macs.contains_key(&fk) {
            continue;
        }
        if let (Some(inst), Some(m)) = (instances.get(nk.vni), advertised(&fk)) {
            put(mac_ip_route(inst, *mac, Some(nk.ip), m));
        }
    }
    out
}

#[cfg(test)]
mod tests;
