//! `show routes` rows: the RIB's EVPN paths (and, with `--family ipv4`, its IPv4 unicast
//! paths) as the control API returns them, and the filters operators give.

use std::net::IpAddr;

use bgp::packet::evpn::EvpnNlri;
use bgp::packet::pmsi::PmsiTunnel;
use bgp::rib::PathAttrs;
use serde::{Deserialize, Serialize};

/// `show_routes` filters (all optional, all must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteFilter {
    #[serde(default, rename = "type")]
    pub route_type: Option<u8>,
    #[serde(default)]
    pub vni: Option<u32>,
    /// `aa:bb:cc:dd:ee:ff`, any case.
    #[serde(default)]
    pub mac: Option<String>,
    /// `10.0.0.1:100` / `65000:100`.
    #[serde(default)]
    pub rd: Option<String>,
    #[serde(default)]
    pub peer: Option<IpAddr>,
}

impl RouteFilter {
    pub fn matches(&self, r: &RouteView) -> bool {
        self.route_type.is_none_or(|t| t == r.route_type)
            && self.vni.is_none_or(|v| r.vni == Some(v))
            && self
                .mac
                .as_ref()
                .is_none_or(|m| r.mac.as_ref().is_some_and(|x| x.eq_ignore_ascii_case(m)))
            && self
                .rd
                .as_ref()
                .is_none_or(|d| r.rd.as_deref() == Some(d.as_str()))
            && self.peer.is_none_or(|p| r.peer == Some(p))
    }
}

/// One EVPN path as the control API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    /// The peer it came from; none for our own routes.
    pub peer: Option<IpAddr>,
    /// The best path of its route (FRR's `>`).
    pub best: bool,
    /// Kept from a restarting peer (graceful restart), not yet re-advertised.
    #[serde(default)]
    pub stale: bool,
    pub route_type: u8,
    pub rd: Option<String>,
    /// FRR's bracket notation, without the RD: `[2]:[0]:[48]:[aa:..]:[32]:[10.1.1.1]`.
    pub prefix: String,
    pub ethernet_tag: Option<u32>,
    pub mac: Option<String>,
    pub ip: Option<IpAddr>,
    /// Type 2: label 1 (L2VNI); type 3: the PMSI tunnel label; type 5: the label.
    pub vni: Option<u32>,
    /// Type 2 label 2 (L3VNI).
    pub l3vni: Option<u32>,
    /// Type 3/4: the originating router's IP.
    pub originator: Option<IpAddr>,
    pub next_hop: Option<IpAddr>,
    pub route_targets: Vec<String>,
    pub extended_communities: Vec<String>,
    pub mac_mobility_seq: Option<u32>,
    pub sticky: bool,
    pub as_path: String,
    pub origin: Option<String>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    /// Set by a route reflector.
    #[serde(default)]
    pub originator_id: Option<std::net::Ipv4Addr>,
    #[serde(default)]
    pub cluster_list: Vec<std::net::Ipv4Addr>,
    /// Seconds since the path was received (or originated), like FRR's route age.
    #[serde(default)]
    pub age_secs: Option<u64>,
    /// Types 1, 2, 4, 5: the Ethernet Segment Identifier (all zero: single-homed).
    #[serde(default)]
    pub esi: Option<String>,
    /// The PMSI_TUNNEL attribute (type 3: ingress replication to the VTEP, label = VNI).
    #[serde(default)]
    pub pmsi_tunnel: Option<PmsiTunnel>,
}

impl RouteView {
    pub fn from_rib(
        peer: Option<IpAddr>,
        n: &EvpnNlri,
        a: &PathAttrs,
        best: bool,
        stale: bool,
        age_secs: u64,
    ) -> Self {
        let ecs = &a.ext_communities;
        let mut r = Self {
            peer,
            best,
            stale,
            route_type: n.route_type(),
            rd: n.rd().map(|d| d.to_string()),
            prefix: n.to_string(),
            ethernet_tag: None,
            mac: None,
            ip: None,
            vni: None,
            l3vni: None,
            originator: None,
            next_hop: a.next_hop,
            route_targets: ecs
                .iter()
                .filter_map(|e| e.as_route_target())
                .map(|rt| rt.to_string())
                .collect(),
            extended_communities: ecs.iter().map(ToString::to_string).collect(),
            mac_mobility_seq: ecs.iter().find_map(|e| e.mac_mobility_sequence()),
            sticky: ecs.iter().any(|e| e.sticky() == Some(true)),
            as_path: a.as_path.to_string(),
            origin: Some(a.origin.to_string()),
            local_pref: a.local_pref,
            med: a.med,
            originator_id: a.originator_id,
            cluster_list: a.cluster_list.clone(),
            age_secs: Some(age_secs),
            esi: None,
            pmsi_tunnel: a.pmsi_tunnel.clone(),
        };
        match n {
            EvpnNlri::MacIp(m) => {
                r.esi = Some(m.esi.to_string());
                r.ethernet_tag = Some(m.ethernet_tag);
                r.mac = Some(m.mac.to_string());
                r.ip = m.ip;
                r.vni = Some(m.label1.0);
                r.l3vni = m.label2.map(|l| l.0);
            }
            EvpnNlri::InclusiveMulticast(m) => {
                r.ethernet_tag = Some(m.ethernet_tag);
                r.originator = Some(m.originator);
                r.vni = a.pmsi_tunnel.as_ref().map(|p| p.label);
            }
            EvpnNlri::EthernetSegment(m) => {
                r.esi = Some(m.esi.to_string());
                r.originator = Some(m.originator);
            }
            EvpnNlri::EthernetAutoDiscovery(m) => {
                r.esi = Some(m.esi.to_string());
                r.ethernet_tag = Some(m.ethernet_tag);
                r.vni = Some(m.label.0);
            }
            EvpnNlri::IpPrefix(m) => {
                r.esi = Some(m.esi.to_string());
                r.ethernet_tag = Some(m.ethernet_tag);
                r.ip = Some(m.prefix);
                r.vni = Some(m.label.0);
            }
            EvpnNlri::Unknown { .. } => {}
        }
        r
    }
}

/// One IPv4 unicast path as the control API returns it (`show_ipv4_routes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4RouteView {
    /// The peer it came from; none for our own networks.
    pub peer: Option<IpAddr>,
    pub best: bool,
    /// Kept from a restarting peer (graceful restart), not yet re-advertised.
    pub stale: bool,
    /// `10.0.0.1/32`.
    pub prefix: String,
    /// None for our own networks (each peer is sent the session's own address).
    pub next_hop: Option<IpAddr>,
    pub as_path: String,
    pub origin: String,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub originator_id: Option<std::net::Ipv4Addr>,
    pub cluster_list: Vec<std::net::Ipv4Addr>,
    pub age_secs: u64,
}

impl Ipv4RouteView {
    pub fn from_rib(
        peer: Option<IpAddr>,
        prefix: &bgp::packet::Ipv4Prefix,
        a: &PathAttrs,
        best: bool,
        stale: bool,
        age_secs: u64,
    ) -> Self {
        Self {
            peer,
            best,
            stale,
            prefix: prefix.to_string(),
            next_hop: a.next_hop,
            as_path: a.as_path.to_string(),
            origin: a.origin.to_string(),
            local_pref: a.local_pref,
            med: a.med,
            originator_id: a.originator_id,
            cluster_list: a.cluster_list.clone(),
            age_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp::packet::evpn::{Esi, InclusiveMulticastEthernetTag, Label, MacIpAdvertisement};
    use bgp::packet::pmsi::TunnelIdentifier;
    use bgp::packet::types::{MacAddress, RouteDistinguisher};

    fn rd() -> RouteDistinguisher {
        RouteDistinguisher::Ipv4 {
            addr: "10.0.0.2".parse().unwrap(),
            number: 2,
        }
    }

    /// The rows carry the ESI and the PMSI tunnel, so a peer's route can be compared
    /// field by field (the interop tests do against FRR).
    #[test]
    fn rows_show_esi_and_pmsi_tunnel() {
        let mut esi = [0u8; 10];
        esi[0] = 3;
        esi[9] = 7;
        let t2 = EvpnNlri::MacIp(MacIpAdvertisement {
            rd: rd(),
            esi: Esi(esi),
            ethernet_tag: 0,
            mac_len: 48,
            mac: MacAddress([0xaa, 0xbb, 0xcc, 0, 0, 1]),
            ip: None,
            label1: Label(100),
            label2: None,
        });
        let r = RouteView::from_rib(None, &t2, &PathAttrs::default(), true, false, 0);
        assert_eq!(r.esi.as_deref(), Some("03:00:00:00:00:00:00:00:00:07"));
        assert_eq!(r.pmsi_tunnel, None);

        let t3 = EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
            rd: rd(),
            ethernet_tag: 0,
            originator: "10.0.0.2".parse().unwrap(),
        });
        let pmsi = PmsiTunnel {
            flags: 0,
            tunnel_type: 6,
            label: 100,
            tunnel_id: TunnelIdentifier::Ip("10.0.0.2".parse().unwrap()),
        };
        let a = PathAttrs {
            pmsi_tunnel: Some(pmsi.clone()),
            ..PathAttrs::default()
        };
        let r = RouteView::from_rib(None, &t3, &a, true, false, 0);
        assert_eq!(r.esi, None);
        assert_eq!(r.vni, Some(100));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["pmsi_tunnel"]["tunnel_type"], 6);
        assert_eq!(v["pmsi_tunnel"]["tunnel_id"]["ip"], "10.0.0.2");
        assert_eq!(r.pmsi_tunnel, Some(pmsi));
        // Rows from before these fields still parse (golden files, older daemons).
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("esi");
        old.as_object_mut().unwrap().remove("pmsi_tunnel");
        let back: RouteView = serde_json::from_value(old).unwrap();
        assert_eq!(back.pmsi_tunnel, None);
    }
}
