//! Builders for tests: received routes the way FRR/GoBGP leaves send them.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bgp::packet::evpn::{Esi, EvpnNlri, InclusiveMulticastEthernetTag, Label, MacIpAdvertisement};
use bgp::packet::extcomm::ExtendedCommunity;
use bgp::packet::pmsi::PmsiTunnel;
use bgp::packet::types::MacAddress;
use fib::{FdbKey, Mac, NeighKey, Vni};

use crate::config::EvpnConfig;
use crate::instance::Instances;
use crate::route::{EvpnRoute, PathAttrs, ReceivedRoute, RouteSource};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

pub fn fk(vni: u32, m: &str) -> FdbKey {
    FdbKey {
        vni: Vni(vni),
        mac: mac(m),
    }
}

pub fn nk(vni: u32, a: &str) -> NeighKey {
    NeighKey {
        vni: Vni(vni),
        ip: ip(a),
    }
}

/// Us: AS 65000, router id 10.0.0.1, VTEP 10.0.0.1, auto RD/RT, for these VNIs.
pub fn our_instances(vnis: &[u32]) -> Instances {
    let c = EvpnConfig::new(65000, "10.0.0.1".parse().unwrap());
    let vteps = vnis.iter().map(|v| (Vni(*v), ip("10.0.0.1"))).collect();
    Instances::from_vteps(&c, &vteps, &Instances::default())
}

/// Attributes of a remote leaf's route: next hop `vtep`, RT `asn:vni`, encapsulation, and
/// MAC mobility when `seq > 0 || sticky`.
pub fn attrs(vtep: &str, asn: u16, vni: u32, seq: u32, sticky: bool) -> Arc<PathAttrs> {
    let mut ext = vec![
        ExtendedCommunity::route_target(bgp::packet::extcomm::RouteTarget::As2 { asn, value: vni }),
        ExtendedCommunity::vxlan_encapsulation(),
    ];
    if seq > 0 || sticky {
        ext.push(ExtendedCommunity::mac_mobility(seq, sticky));
    }
    Arc::new(PathAttrs {
        next_hop: ip(vtep),
        ext_communities: ext,
        pmsi: None,
    })
}

/// RD `vtep:N`, N = the VNI's low 16 bits: one RD per leaf and VNI, as leaves have.
pub fn rd_of(vtep: &str, vni: u32) -> bgp::packet::types::RouteDistinguisher {
    format!("{vtep}:{}", vni & 0xffff).parse().unwrap()
}

pub fn received(route: EvpnRoute) -> ReceivedRoute {
    ReceivedRoute {
        route,
        source: RouteSource {
            peer: ip("10.255.1.0"),
            originator_id: None,
        },
    }
}

/// A remote type-2 route.
pub fn t2(vtep: &str, vni: u32, m: &str, a: Option<&str>, seq: u32, sticky: bool) -> ReceivedRoute {
    received(EvpnRoute {
        nlri: EvpnNlri::MacIp(MacIpAdvertisement {
            rd: rd_of(vtep, vni),
            esi: Esi::ZERO,
            ethernet_tag: 0,
            mac_len: 48,
            mac: MacAddress(mac(m).0),
            ip: a.map(ip),
            label1: Label::from_vni(vni),
            label2: None,
        }),
        attrs: attrs(vtep, 65000, vni, seq, sticky),
    })
}

/// A remote type-3 route with PMSI ingress replication to `vtep`.
pub fn t3(vtep: &str, vni: u32) -> ReceivedRoute {
    let mut a = (*attrs(vtep, 65000, vni, 0, false)).clone();
    a.pmsi = Some(PmsiTunnel::ingress_replication(vni, ip(vtep)));
    received(EvpnRoute {
        nlri: EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
            rd: rd_of(vtep, vni),
            ethernet_tag: 0,
            originator: ip(vtep),
        }),
        attrs: Arc::new(a),
    })
}

pub fn rid(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A kernel topology with one classic VXLAN device (local 10.0.0.1) per VNI, each in its
/// own bridge, all up.
pub fn topology(vnis: &[u32]) -> fib::Topology {
    let mut t = fib::Topology::default();
    for (n, &vni) in vnis.iter().enumerate() {
        let vx = 10 + 2 * n as u32;
        let br = vx + 1;
        t.bridges.insert(
            br,
            fib::Bridge {
                name: format!("br{vni}"),
                ifindex: br,
                mac: None,
                up: true,
                addrs: vec![],
            },
        );
        t.vxlans.insert(
            vx,
            fib::VxlanDevice {
                name: format!("vxlan{vni}"),
                ifindex: vx,
                vni: Some(Vni(vni)),
                local: Some(ip("10.0.0.1")),
                dstport: 4789,
                learning: false,
                external: false,
                vnifilter: false,
                master: Some(br),
                up: true,
            },
        );
    }
    t
}
