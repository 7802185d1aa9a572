//! Until the RIB (`bgp::rib`) is in main: the routes each peer announced and has not
//! withdrawn, per family, with the attributes `show routes` prints. One `Arc` of
//! attributes per UPDATE is shared by all its NLRI. No best-path selection here: every
//! path is listed with its peer; the RIB replaces this module.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bgp::packet::evpn::EvpnNlri;
use bgp::packet::{Ipv4Prefix, MpNlri, Update, Verdict};
use serde::{Deserialize, Serialize};

use crate::control::FamilyCounts;

/// What `show routes` shows of a path's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attrs {
    pub next_hop: Option<IpAddr>,
    pub route_targets: Vec<String>,
    pub extended_communities: Vec<String>,
    pub mac_mobility_seq: Option<u32>,
    pub sticky: bool,
    /// PMSI tunnel label (the VNI of a type-3 route under RFC 8365).
    pub pmsi_vni: Option<u32>,
    pub as_path: String,
    pub origin: Option<String>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
}

impl Attrs {
    fn of(u: &Update) -> Self {
        let ecs = u.extended_communities();
        Self {
            next_hop: u
                .mp_reach()
                .and_then(|r| r.next_hop.ip())
                .or(u.next_hop().map(IpAddr::V4)),
            route_targets: ecs
                .iter()
                .filter_map(|e| e.as_route_target())
                .map(|rt| rt.to_string())
                .collect(),
            extended_communities: ecs.iter().map(ToString::to_string).collect(),
            mac_mobility_seq: ecs.iter().find_map(|e| e.mac_mobility_sequence()),
            sticky: ecs.iter().any(|e| e.sticky() == Some(true)),
            pmsi_vni: u.pmsi_tunnel().map(|p| p.label),
            as_path: u.as_path().map(ToString::to_string).unwrap_or_default(),
            origin: u.origin().map(|o| o.to_string()),
            local_pref: u.local_pref(),
            med: u.med(),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct PeerRoutes {
    evpn: HashMap<EvpnNlri, (Arc<Attrs>, Instant)>,
    ipv4: HashMap<Ipv4Prefix, (Arc<Attrs>, Instant)>,
}

impl PeerRoutes {
    pub fn apply(&mut self, u: &Update, verdict: &Verdict, now: Instant) {
        let withdraw = matches!(verdict, Verdict::TreatAsWithdraw);
        for p in &u.withdrawn {
            self.ipv4.remove(p);
        }
        let reach_evpn: &[EvpnNlri] = match u.mp_reach().map(|r| &r.nlri) {
            Some(MpNlri::Evpn(v)) => v,
            _ => &[],
        };
        let reach_v4: Vec<Ipv4Prefix> = match u.mp_reach().map(|r| &r.nlri) {
            Some(MpNlri::Ipv4(v)) => v.clone(),
            _ => Vec::new(),
        }
        .into_iter()
        .chain(u.nlri.iter().copied())
        .collect();
        if withdraw {
            reach_evpn.iter().for_each(|n| {
                self.evpn.remove(n);
            });
            reach_v4.iter().for_each(|p| {
                self.ipv4.remove(p);
            });
        } else if !reach_evpn.is_empty() || !reach_v4.is_empty() {
            let attrs = Arc::new(Attrs::of(u));
            for n in reach_evpn {
                self.evpn.insert(n.clone(), (attrs.clone(), now));
            }
            for p in reach_v4 {
                self.ipv4.insert(p, (attrs.clone(), now));
            }
        }
        if let Some(r) = u.mp_unreach() {
            match &r.nlri {
                MpNlri::Evpn(v) => v.iter().for_each(|n| {
                    self.evpn.remove(n);
                }),
                MpNlri::Ipv4(v) => v.iter().for_each(|p| {
                    self.ipv4.remove(p);
                }),
                _ => {}
            }
        }
    }

    pub fn clear(&mut self) {
        self.evpn.clear();
        self.ipv4.clear();
    }

    pub fn counts(&self) -> Vec<FamilyCounts> {
        let mut v = vec![FamilyCounts {
            family: "l2vpn/evpn".into(),
            received: self.evpn.len() as u64,
            sent: 0,
        }];
        if !self.ipv4.is_empty() {
            v.push(FamilyCounts {
                family: "ipv4/unicast".into(),
                received: self.ipv4.len() as u64,
                sent: 0,
            });
        }
        v
    }

    /// The EVPN paths that pass `f`, as `show routes` rows.
    pub fn evpn_rows(&self, peer: IpAddr, f: &RouteFilter, now: Instant) -> Vec<RouteView> {
        self.evpn
            .iter()
            .map(|(n, (a, t))| {
                RouteView::new(peer, n, a, now.saturating_duration_since(*t).as_secs())
            })
            .filter(|r| f.matches(r))
            .collect()
    }
}

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
            && self.peer.is_none_or(|p| p == r.peer)
    }
}

/// One EVPN path as the control API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    pub peer: IpAddr,
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
    pub age_secs: u64,
}

impl RouteView {
    fn new(peer: IpAddr, n: &EvpnNlri, a: &Attrs, age_secs: u64) -> Self {
        let mut r = Self {
            peer,
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
            route_targets: a.route_targets.clone(),
            extended_communities: a.extended_communities.clone(),
            mac_mobility_seq: a.mac_mobility_seq,
            sticky: a.sticky,
            as_path: a.as_path.clone(),
            origin: a.origin.clone(),
            local_pref: a.local_pref,
            med: a.med,
            age_secs,
        };
        match n {
            EvpnNlri::MacIp(m) => {
                r.ethernet_tag = Some(m.ethernet_tag);
                r.mac = Some(m.mac.to_string());
                r.ip = m.ip;
                r.vni = Some(m.label1.0);
                r.l3vni = m.label2.map(|l| l.0);
            }
            EvpnNlri::InclusiveMulticast(m) => {
                r.ethernet_tag = Some(m.ethernet_tag);
                r.originator = Some(m.originator);
                r.vni = a.pmsi_vni;
            }
            EvpnNlri::EthernetSegment(m) => r.originator = Some(m.originator),
            EvpnNlri::EthernetAutoDiscovery(m) => {
                r.ethernet_tag = Some(m.ethernet_tag);
                r.vni = Some(m.label.0);
            }
            EvpnNlri::IpPrefix(m) => {
                r.ethernet_tag = Some(m.ethernet_tag);
                r.ip = Some(m.prefix);
                r.vni = Some(m.label.0);
            }
            EvpnNlri::Unknown { .. } => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp::packet::evpn::{InclusiveMulticastEthernetTag, Label, MacIpAdvertisement};
    use bgp::packet::types::{MacAddress, RouteDistinguisher};

    fn t2(mac: u8) -> EvpnNlri {
        EvpnNlri::MacIp(MacIpAdvertisement {
            rd: "10.0.0.2:100".parse::<RouteDistinguisher>().unwrap(),
            esi: Default::default(),
            ethernet_tag: 0,
            mac_len: 48,
            mac: MacAddress([0xaa, 0, 0, 0, 0, mac]),
            ip: Some("10.1.1.1".parse().unwrap()),
            label1: Label(100),
            label2: None,
        })
    }

    #[test]
    fn announce_withdraw_and_filters() {
        let now = Instant::now();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let t3 = EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
            rd: "10.0.0.2:100".parse().unwrap(),
            ethernet_tag: 0,
            originator: "10.0.0.2".parse().unwrap(),
        });
        let mut r = PeerRoutes::default();
        let nh: IpAddr = "10.0.0.2".parse().unwrap();
        r.apply(
            &Update::evpn_reach(vec![], nh, vec![t2(1), t2(2), t3]),
            &Verdict::Accept,
            now,
        );
        assert_eq!(r.counts()[0].received, 3);
        let all = r.evpn_rows(peer, &RouteFilter::default(), now);
        assert!(all.iter().all(|v| v.next_hop == Some(nh) && v.peer == peer));
        let f = RouteFilter {
            route_type: Some(2),
            mac: Some("AA:00:00:00:00:02".into()),
            ..Default::default()
        };
        let rows = r.evpn_rows(peer, &f, now);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].prefix,
            "[2]:[0]:[48]:[aa:00:00:00:00:02]:[32]:[10.1.1.1]"
        );
        assert_eq!(
            (rows[0].vni, rows[0].rd.as_deref()),
            (Some(100), Some("10.0.0.2:100"))
        );
        r.apply(&Update::evpn_unreach(vec![t2(1)]), &Verdict::Accept, now);
        assert_eq!(r.counts()[0].received, 2);
        // Treat-as-withdraw removes what the UPDATE would have announced.
        r.apply(
            &Update::evpn_reach(vec![], nh, vec![t2(2)]),
            &Verdict::TreatAsWithdraw,
            now,
        );
        assert_eq!(r.counts()[0].received, 1);
        let f = RouteFilter {
            route_type: Some(3),
            ..Default::default()
        };
        assert_eq!(r.evpn_rows(peer, &f, now).len(), 1);
    }
}
