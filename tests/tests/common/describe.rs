//! golden_hex.py's text (`describe`, `compact_attrs`, the `.hex` and `.list` layouts),
//! written from OUR decoded structures: the typed API, never the message bytes (the one
//! exception, extended next hop, is marked where it happens).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::attribute::code;
use bgp::packet::capability::Capability;
use bgp::packet::evpn::EvpnNlri;
use bgp::packet::open::OptionalParameter;
use bgp::packet::pmsi::TunnelIdentifier;
use bgp::packet::types::RouteDistinguisher;
use bgp::packet::{
    AfiSafi, AsPath, Attribute, Message, MpNextHop, MpNlri, Notification, Open, Origin,
    PathAttribute, RouteRefreshSubtype, SegmentType, Update,
};
use bytes::BytesMut;

use super::OPTS;

pub fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// golden_hex.py `rd()`.
fn rd_text(rd: &RouteDistinguisher) -> String {
    match rd {
        RouteDistinguisher::As2 { asn, number } => format!("{asn}:{number}"),
        RouteDistinguisher::Ipv4 { addr, number } => format!("{addr}:{number}"),
        RouteDistinguisher::As4 { asn, number } => format!("{asn}:{number}"),
        RouteDistinguisher::Other { rd_type, value } => format!("type{rd_type}:{}", hex(value)),
    }
}

fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ip_len_bits(ip: Option<&IpAddr>) -> u8 {
    match ip {
        None => 0,
        Some(IpAddr::V4(_)) => 32,
        Some(IpAddr::V6(_)) => 128,
    }
}

/// A 24-bit label field as its 3 wire octets.
fn label_hex(label: u32) -> String {
    let raw = label.to_be_bytes();
    assert_eq!(raw[0], 0, "label {label:#x} wider than 24 bits");
    hex(&raw[1..])
}

/// A 24-bit label as its 3 wire octets and as the VNI (RFC 8365).
fn label_text(name: &str, label: u32) -> String {
    format!("{name}={}(vni {label})", label_hex(label))
}

/// golden_hex.py `evpn_nlri()`: one line per route.
fn nlri_text(n: &EvpnNlri) -> String {
    let len = n.value_len();
    match n {
        EvpnNlri::MacIp(r) => {
            let ipl = ip_len_bits(r.ip.as_ref());
            let mut s = format!(
                "type-2 len={len} rd={} esi={} ethtag={} mac={} iplen={ipl}",
                rd_text(&r.rd),
                hex(&r.esi.0),
                r.ethernet_tag,
                mac_text(&r.mac.0)
            );
            if let Some(ip) = r.ip {
                write!(s, " ip={ip}").unwrap();
            }
            write!(s, " {}", label_text("label1", r.label1.0)).unwrap();
            if let Some(l2) = r.label2 {
                write!(s, " {}", label_text("label2", l2.0)).unwrap();
            }
            s
        }
        EvpnNlri::InclusiveMulticast(r) => format!(
            "type-3 len={len} rd={} ethtag={} iplen={} originator={}",
            rd_text(&r.rd),
            r.ethernet_tag,
            ip_len_bits(Some(&r.originator)),
            r.originator
        ),
        other => {
            // Not in these captures; golden_hex.py prints the value raw.
            let mut b = BytesMut::new();
            other.encode(&mut b);
            format!("type-{} len={len} raw={}", other.route_type(), hex(&b[2..]))
        }
    }
}

/// golden_hex.py ATTR_NAMES.
fn attr_name(t: u8) -> String {
    match t {
        1 => "ORIGIN",
        2 => "AS_PATH",
        3 => "NEXT_HOP",
        4 => "MED",
        5 => "LOCAL_PREF",
        6 => "ATOMIC_AGGREGATE",
        7 => "AGGREGATOR",
        8 => "COMMUNITIES",
        9 => "ORIGINATOR_ID",
        10 => "CLUSTER_LIST",
        14 => "MP_REACH_NLRI",
        15 => "MP_UNREACH_NLRI",
        16 => "EXTENDED_COMMUNITIES",
        22 => "PMSI_TUNNEL",
        32 => "LARGE_COMMUNITIES",
        _ => return format!("ATTR{t}"),
    }
    .to_string()
}

fn as_path_text(p: &AsPath) -> String {
    if p.segments.is_empty() {
        return "(empty)".into();
    }
    p.segments
        .iter()
        .map(|s| {
            let kind = match s.kind {
                SegmentType::AsSequence => "SEQ".to_string(),
                SegmentType::AsSet => "SET".to_string(),
                other => format!("T{}", other as u8),
            };
            let asns: Vec<String> = s.asns.iter().map(u32::to_string).collect();
            format!("{kind}[{}]", asns.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_len(a: &PathAttribute) -> usize {
    let mut b = BytesMut::new();
    a.value.encode_value(&mut b, &OPTS);
    b.len()
}

fn encoded_len(a: &PathAttribute) -> usize {
    let hdr = if a.flags & 0x10 != 0 { 4 } else { 3 };
    hdr + value_len(a)
}

/// golden_hex.py `attrs()`: the value text; NLRI on further lines ("\n    reach ...").
fn attr_detail(a: &PathAttribute) -> String {
    match &a.value {
        Attribute::Origin(o) => match o {
            Origin::Igp => "IGP",
            Origin::Egp => "EGP",
            Origin::Incomplete => "INCOMPLETE",
        }
        .into(),
        Attribute::AsPath(p) => as_path_text(p),
        Attribute::MultiExitDisc(v) | Attribute::LocalPref(v) => v.to_string(),
        Attribute::NextHop(ip) | Attribute::OriginatorId(ip) => ip.to_string(),
        Attribute::ClusterList(l) => l
            .iter()
            .map(Ipv4Addr::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        Attribute::MpReachNlri(m) => {
            let (nh_len, nh) = match &m.next_hop {
                MpNextHop::Ipv4(a) => (4, a.to_string()),
                MpNextHop::Ipv6(a) => (16, a.to_string()),
                other => panic!("next hop {other:?} not expected in these captures"),
            };
            // Our MpReach does not keep the reserved (old SNPA count) octet: it is always
            // encoded 0, and the byte-identical re-encoding test proves it was 0.
            let mut s = format!(
                "afi={} safi={} nh_len={nh_len} nh={nh} reserved=0",
                m.family.afi.to_u16(),
                m.family.safi.to_u8()
            );
            if m.family == AfiSafi::L2VPN_EVPN {
                let MpNlri::Evpn(list) = &m.nlri else {
                    panic!("EVPN MP_REACH without EVPN NLRI: {m:?}")
                };
                for n in list {
                    write!(s, "\n    reach {}", nlri_text(n)).unwrap();
                }
            }
            s
        }
        Attribute::MpUnreachNlri(m) => {
            let mut s = format!(
                "afi={} safi={}",
                m.family.afi.to_u16(),
                m.family.safi.to_u8()
            );
            if m.family == AfiSafi::L2VPN_EVPN {
                let MpNlri::Evpn(list) = &m.nlri else {
                    panic!("EVPN MP_UNREACH without EVPN NLRI: {m:?}")
                };
                if list.is_empty() {
                    s.push_str(" (End-of-RIB)");
                }
                for n in list {
                    write!(s, "\n    unreach {}", nlri_text(n)).unwrap();
                }
            }
            s
        }
        Attribute::ExtendedCommunities(list) => list
            .iter()
            .map(|c| hex(&c.to_bytes()))
            .collect::<Vec<_>>()
            .join(" "),
        Attribute::PmsiTunnel(p) => {
            let endpoint = match &p.tunnel_id {
                TunnelIdentifier::Ip(ip) => ip.to_string(),
                TunnelIdentifier::Raw(b) => panic!("PMSI identifier kept raw: {}", hex(b)),
            };
            format!(
                "flags={} tunnel_type={} {} endpoint={endpoint}",
                p.flags,
                p.tunnel_type,
                label_text("label", p.label)
            )
        }
        // golden_hex.py prints the value of any other attribute as hex.
        other => {
            let mut b = BytesMut::new();
            other.encode_value(&mut b, &OPTS);
            hex(&b)
        }
    }
}

/// (header "NAME(0xff,len N)", detail) per attribute, in wire order.
fn attrs_text(u: &Update) -> Vec<(String, String)> {
    u.attributes
        .iter()
        .map(|a| {
            (
                format!(
                    "{}({:#04x},len {})",
                    attr_name(a.type_code()),
                    a.flags,
                    value_len(a)
                ),
                attr_detail(a),
            )
        })
        .collect()
}

/// golden_hex.py `compact_attrs()`.
fn compact_attrs(u: &Update) -> String {
    u.attributes
        .iter()
        .map(|a| {
            let val = match &a.value {
                Attribute::MpReachNlri(m) => match m.next_hop.ip() {
                    Some(ip) => format!("nh {ip}"),
                    None => panic!("MP_REACH next hop without address: {m:?}"),
                },
                Attribute::MpUnreachNlri(_) => String::new(),
                _ => attr_detail(a).lines().next().unwrap_or("").to_string(),
            };
            let mut s = format!("{}({:#04x})", attr_name(a.type_code()), a.flags);
            if !val.is_empty() {
                write!(s, "={val}").unwrap();
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The short form of one route for the summary line (golden_hex.py `describe`, UPDATE).
fn nlri_key_text(dir: &str, n: &EvpnNlri) -> String {
    let rd = n.rd().map_or_else(|| "None".to_string(), |r| rd_text(&r));
    let mut s = format!("{dir} type-{} rd={rd}", n.route_type());
    match n {
        EvpnNlri::MacIp(r) => {
            write!(s, " mac={}", mac_text(&r.mac.0)).unwrap();
            if let Some(ip) = r.ip {
                write!(s, " ip={ip}").unwrap();
            }
            write!(s, " label={}", label_hex(r.label1.0)).unwrap();
        }
        EvpnNlri::InclusiveMulticast(r) => write!(s, " orig={}", r.originator).unwrap(),
        _ => {}
    }
    s
}

fn cap_text(c: &Capability) -> String {
    let fam = |f: &AfiSafi| format!("{}/{}", f.afi.to_u16(), f.safi.to_u8());
    match c {
        Capability::Multiprotocol(f) => format!("MP({})", fam(f)),
        Capability::RouteRefresh => "ROUTE_REFRESH".into(),
        Capability::RouteRefreshCisco => "ROUTE_REFRESH_OLD(128)".into(),
        Capability::EnhancedRouteRefresh => "ENHANCED_ROUTE_REFRESH".into(),
        Capability::ExtendedMessage => "EXTENDED_MESSAGE".into(),
        Capability::FourOctetAs(a) => format!("4OCTET_AS({a})"),
        Capability::AddPath(l) => format!(
            "ADD_PATH({})",
            l.iter()
                .map(|f| format!("{}/{}", fam(&f.family), f.send_receive))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Capability::Fqdn { hostname, domain } => {
            format!("FQDN(host='{hostname}' domain='{domain}')")
        }
        Capability::GracefulRestart(gr) => {
            let mut s = format!(
                "GRACEFUL_RESTART(flags={:#x} time={}",
                gr.restart_flags, gr.restart_time
            );
            for f in &gr.families {
                write!(s, " {}/{:#x}", fam(&f.family), f.flags).unwrap();
            }
            s + ")"
        }
        Capability::LongLivedGracefulRestart(l) => format!(
            "LLGR({})",
            l.iter()
                .map(|f| format!(
                    "{}/flags={:#x}/stale={}",
                    fam(&f.family),
                    f.flags,
                    f.stale_time
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        // Extended next hop (RFC 8950) is not one the codec types: it keeps the value raw,
        // so this is the one place the test reads value octets itself.
        Capability::Unknown { code: 5, value } => format!(
            "EXTENDED_NEXTHOP({})",
            value
                .chunks(6)
                .map(|c| {
                    let w = |i: usize| u16::from_be_bytes([c[i], c[i + 1]]);
                    format!("{}/{}/nh-afi {}", w(0), w(2), w(4))
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
        Capability::Unknown { code, value } if value.is_empty() => format!("CAP{code}"),
        Capability::Unknown { code, value } => format!("CAP{code}({})", hex(value)),
    }
}

fn cap_len(c: &Capability) -> usize {
    let mut b = BytesMut::new();
    c.encode(&mut b).expect("capability encodes");
    b.len() - 2
}

/// Optional Parameters Length, from our parameter list.
fn opt_len(o: &Open) -> usize {
    o.params
        .iter()
        .map(|p| match p {
            OptionalParameter::Capabilities(caps) => {
                2 + caps.iter().map(|c| 2 + cap_len(c)).sum::<usize>()
            }
        })
        .sum()
}

/// golden_hex.py `describe()`: (summary line, detail lines).
pub fn describe(m: &Message) -> (String, Vec<String>) {
    match m {
        Message::Open(o) => {
            let caps: Vec<&Capability> = o.capabilities().collect();
            let summary = format!(
                "OPEN as={} hold={} id={} caps: {}",
                o.my_as,
                o.hold_time,
                o.bgp_id,
                caps.iter()
                    .map(|c| cap_text(c))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let mut det = vec![format!(
                "version={} my_as={} hold={} bgp_id={} opt_len={}",
                o.version,
                o.my_as,
                o.hold_time,
                o.bgp_id,
                opt_len(o)
            )];
            det.extend(
                caps.iter()
                    .map(|c| format!("cap {}[len {}]", cap_text(c), cap_len(c))),
            );
            (summary, det)
        }
        Message::Update(u) => {
            assert!(
                u.malformations.is_empty(),
                "malformed: {:?}",
                u.malformations
            );
            let wl: usize = u.withdrawn.iter().map(|p| p.encoded_len()).sum();
            let al: usize = u.attributes.iter().map(encoded_len).sum();
            let nl: usize = u.nlri.iter().map(|p| p.encoded_len()).sum();
            let a = attrs_text(u);
            let mut det = vec![format!(
                "withdrawn_len={wl} path_attr_len={al} nlri_len={nl}"
            )];
            det.extend(a.iter().map(|(k, v)| format!("{k} {v}")));
            let mut keys = Vec::new();
            for attr in &u.attributes {
                match &attr.value {
                    Attribute::MpReachNlri(m) => {
                        if let MpNlri::Evpn(l) = &m.nlri {
                            keys.extend(l.iter().map(|n| nlri_key_text("reach", n)));
                        }
                    }
                    Attribute::MpUnreachNlri(m) => {
                        if let MpNlri::Evpn(l) = &m.nlri {
                            keys.extend(l.iter().map(|n| nlri_key_text("unreach", n)));
                            if l.is_empty() {
                                keys.push("End-of-RIB l2vpn-evpn".into());
                            }
                        }
                    }
                    _ => {}
                }
            }
            let mut s = format!("UPDATE {}", keys.join("; "));
            if let Some(a) = u
                .attributes
                .iter()
                .find(|a| matches!(a.type_code(), code::ORIGINATOR_ID | code::CLUSTER_LIST))
            {
                write!(s, " [reflected: originator {}]", attr_detail(a)).unwrap();
            }
            if u.attributes.is_empty() && wl == 0 && nl == 0 {
                s = "UPDATE End-of-RIB ipv4-unicast".into();
            }
            (s, det)
        }
        Message::Notification(n) => {
            let mut det = vec![format!(
                "code={} subcode={} data={}",
                n.code,
                n.subcode,
                hex(&n.data)
            )];
            let mut inner: &Notification = n;
            let reason;
            if let Some(r) = n.hard_reset_reason() {
                det.push(format!(
                    "hard reset (RFC 8538): inner code={} subcode={} data={}",
                    r.code,
                    r.subcode,
                    hex(&r.data)
                ));
                reason = r;
                inner = &reason;
            }
            if let Some(text) = inner.shutdown_communication() {
                det.push(format!(
                    "shutdown communication (RFC 9003) len={} text='{text}'",
                    text.len()
                ));
            }
            (
                format!(
                    "NOTIFICATION code={} subcode={} data={}",
                    n.code,
                    n.subcode,
                    hex(&n.data)
                ),
                det,
            )
        }
        Message::Keepalive => ("KEEPALIVE".into(), vec![]),
        Message::RouteRefresh(r) => {
            let st = r.subtype.to_u8();
            let name = match r.subtype {
                RouteRefreshSubtype::Normal => "request".to_string(),
                RouteRefreshSubtype::BeginningOfRouteRefresh => "BoRR".to_string(),
                RouteRefreshSubtype::EndOfRouteRefresh => "EoRR".to_string(),
                RouteRefreshSubtype::Other(v) => v.to_string(),
            };
            let (afi, safi) = (r.family.afi.to_u16(), r.family.safi.to_u8());
            (
                format!("ROUTE-REFRESH afi={afi} safi={safi} subtype={st}({name})"),
                vec![format!("afi={afi} subtype={st} safi={safi}")],
            )
        }
    }
}

pub fn our_len(m: &Message) -> usize {
    m.to_bytes(&OPTS)
        .unwrap_or_else(|e| panic!("{m:?} does not encode: {e}"))
        .len()
}

/// The `#` block golden_hex.py writes above a message in a `.hex` file.
pub fn hex_block(src: &str, dst: &str, frames: &str, m: &Message) -> String {
    let (s, det) = describe(m);
    let mut out = format!(
        "# {src} -> {dst} {s}\n#   length {}; frame(s) {frames}\n",
        our_len(m)
    );
    for d in det {
        for line in d.split('\n') {
            writeln!(out, "#   {line}").unwrap();
        }
    }
    out
}

/// One message's entry in a `.list` file.
pub fn list_entry(n: usize, frame: u64, src: &str, dst: &str, m: &Message) -> String {
    let (s, _) = describe(m);
    let mut out = format!(
        "{n:3}. f{frame:<3} {src} -> {dst} len {}: {s}\n",
        our_len(m)
    );
    if let Message::Update(u) = m {
        let c = compact_attrs(u);
        if !c.is_empty() {
            writeln!(out, "       attrs: {c}").unwrap();
        }
    }
    out
}
