//! The codec (`bgp::packet`) against the real FRR 8.4 / GoBGP 3.10 captures in
//! `tests/golden/`: every field of every message, as an independent decoder
//! (`tests/golden/golden_hex.py`, cross-checked against tshark) described it.
//!
//! The formatter (`common/describe.rs`) writes golden_hex.py's text from OUR decoded
//! structures (typed API, never the bytes), so a field our codec gets wrong shows up as a
//! one-line diff. What the text does not show (MAC length, the OPEN's parameter layout, ...)
//! is asserted explicitly.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::evpn::EvpnNlri;
use bgp::packet::open::OptionalParameter;
use bgp::packet::types::RouteDistinguisher;
use bgp::packet::{
    AfiSafi, AsPath, Message, MpNlri, RouteRefresh, RouteRefreshSubtype, Update, Verdict,
};

use common::describe::{hex, hex_block, list_entry, our_len};
use common::{all_entries, diff, hex_entries, name_of, read_golden, HexEntry, OPTS, SCENARIOS};

// ---------------------------------------------------------------------------------------
// 1. Every field of every message, as the .hex comments describe it.
// ---------------------------------------------------------------------------------------

#[test]
fn every_hex_message_decodes_to_the_fields_the_hex_comments_describe() {
    let mut failures = String::new();
    let mut counts = Vec::new();
    for scenario in SCENARIOS {
        let entries = hex_entries(scenario);
        for e in &entries {
            let m = match Message::decode(&e.bytes, &OPTS) {
                Ok(m) => m,
                Err(err) => {
                    writeln!(
                        failures,
                        "{scenario}.hex message {} does not decode: {err}\n  {}",
                        e.index,
                        hex(&e.bytes)
                    )
                    .unwrap();
                    continue;
                }
            };
            let want = e.comments.join("\n") + "\n";
            let got = hex_block(&e.src, &e.dst, &e.frames, &m);
            if want != got {
                writeln!(
                    failures,
                    "{scenario}.hex message {} ({}):\n{}  bytes: {}",
                    e.index,
                    e.summary(),
                    diff(&want, &got),
                    hex(&e.bytes)
                )
                .unwrap();
            }
        }
        counts.push(format!("{scenario}: {}", entries.len()));
    }
    assert!(failures.is_empty(), "{failures}");
    // What the files hold (README "Message counts"): nothing was skipped.
    assert_eq!(
        counts,
        [
            "frr-leaf-ibgp: 19",
            "route-refresh: 8",
            "frr-ebgp: 16",
            "gobgp-evpn: 12"
        ]
    );
}

/// Fields the golden text does not show: MAC length, ESI kind, the RD and MAC display
/// forms operators see, and the OPENs' parameter layout and AS numbers.
#[test]
fn fields_the_hex_comments_do_not_show() {
    let mut mac_ip = 0;
    for (scenario, e) in all_entries() {
        match e.decode() {
            Message::Update(u) => {
                // RFC 7606: nothing in real FRR/GoBGP traffic is malformed.
                assert_eq!(u.verdict(), Verdict::Accept, "{scenario} {}", e.summary());
                assert!(
                    u.withdrawn.is_empty() && u.nlri.is_empty(),
                    "EVPN only in MP_*"
                );
                for n in evpn_routes(&u) {
                    if let EvpnNlri::MacIp(r) = n {
                        mac_ip += 1;
                        assert_eq!(r.mac_len, 48, "{scenario} {}", e.summary());
                        assert!(r.esi.is_zero());
                        assert_eq!(r.label2, None);
                        assert!(e.summary().contains(&format!("mac={}", r.mac)));
                    }
                    let rd = n.rd().expect("typed route");
                    assert!(matches!(rd, RouteDistinguisher::Ipv4 { .. }));
                    assert!(e.summary().contains(&format!("rd={rd}")));
                }
            }
            Message::Open(o) => {
                let params: Vec<usize> = o
                    .params
                    .iter()
                    .map(|OptionalParameter::Capabilities(c)| c.len())
                    .collect();
                let frr = !e.src.starts_with("gobgp");
                // FRR: each capability in its own parameter; GoBGP: all in one.
                let want: Vec<usize> = if frr { vec![1; 10] } else { vec![5] };
                assert_eq!(params, want, "{scenario} {}", e.summary());
                assert!(!o.extended_params);
                assert_eq!(o.asn(), u32::from(o.my_as));
                assert_eq!(o.families(), [AfiSafi::L2VPN_EVPN]);
                let want_as = match (scenario, e.src.as_str()) {
                    ("frr-ebgp", "leaf1") => 65001,
                    _ => 65000,
                };
                assert_eq!(o.asn(), want_as, "{scenario} {}", e.summary());
            }
            _ => {}
        }
    }
    assert_eq!(
        mac_ip, 28,
        "MAC/IP routes seen (type-2 NLRI lines in the .hex files)"
    );
}

fn evpn_routes(u: &Update) -> Vec<&EvpnNlri> {
    let mut out = Vec::new();
    if let Some(MpNlri::Evpn(l)) = u.mp_reach().map(|m| &m.nlri) {
        out.extend(l);
    }
    if let Some(MpNlri::Evpn(l)) = u.mp_unreach().map(|m| &m.nlri) {
        out.extend(l);
    }
    out
}

// ---------------------------------------------------------------------------------------
// 3. The pcap path: evpnd's capture reader + our decoder reproduce the .list and .hex files.
// ---------------------------------------------------------------------------------------

struct Captured {
    frame: u64,
    src: String,
    dst: String,
    bytes: Vec<u8>,
}

fn read_pcap(scenario: &str) -> Vec<Captured> {
    let path = common::golden_path(&format!("{scenario}.pcap"));
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let c = evpnd::decode::pcap::read_capture(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(c.notes.is_empty(), "{scenario}.pcap notes: {:?}", c.notes);
    c.messages
        .into_iter()
        .map(|m| Captured {
            frame: m.frame,
            src: name_of(scenario, &m.src.ip().to_string()),
            dst: name_of(scenario, &m.dst.ip().to_string()),
            bytes: m.bytes,
        })
        .collect()
}

#[test]
fn pcap_reader_yields_exactly_the_list_files_messages_in_order() {
    let mut failures = String::new();
    let mut counts = Vec::new();
    for scenario in SCENARIOS {
        let msgs = read_pcap(scenario);
        let mut got = String::new();
        for (i, c) in msgs.iter().enumerate() {
            let m = Message::decode(&c.bytes, &OPTS).unwrap_or_else(|e| {
                panic!("{scenario}.pcap message {}: {e}: {}", i + 1, hex(&c.bytes))
            });
            assert_eq!(our_len(&m), c.bytes.len());
            got.push_str(&list_entry(i + 1, c.frame, &c.src, &c.dst, &m));
        }
        let want = read_golden(&format!("{scenario}.list"));
        if want != got {
            writeln!(failures, "{scenario}.list:\n{}", diff(&want, &got)).unwrap();
        }
        counts.push(format!("{scenario}: {}", msgs.len()));
    }
    assert!(failures.is_empty(), "{failures}");
    assert_eq!(
        counts,
        [
            "frr-leaf-ibgp: 19",
            "route-refresh: 9",
            "frr-ebgp: 16",
            "gobgp-evpn: 12"
        ]
    );
}

/// `evpnctl decode --pcap`'s path: options follow each connection's OPENs (4-octet AS on
/// both sides here), so every message decodes to what the fixed options give.
#[test]
fn decode_capture_negotiates_four_octet_as_and_decodes_every_message() {
    for scenario in SCENARIOS {
        let path = common::golden_path(&format!("{scenario}.pcap"));
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let c = evpnd::decode::pcap::read_capture(std::io::BufReader::new(f)).expect("reads");
        // A base without 4-octet AS: only the OPENs can turn it on (route-refresh.pcap has
        // no OPEN and only AS_PATHs that are empty, so it decodes either way).
        let base = bgp::packet::DecodeOptions {
            four_octet_as: false,
            extended_message: false,
        };
        let decoded = evpnd::decode::decode_capture(&c.messages, &base);
        assert_eq!(decoded.len(), c.messages.len());
        for d in decoded {
            let want = Message::decode(&d.bytes, &OPTS).expect("decodes");
            assert_eq!(
                d.result.as_ref(),
                Ok(&want),
                "{scenario} message {}",
                d.index
            );
            assert!(!d.is_malformed(), "{scenario} message {}", d.index);
        }
    }
}

/// The `.hex` files, rebuilt from the pcap (distinct messages per direction, first-seen
/// order, every frame of a repeat): same bytes, directions and frames.
#[test]
fn pcap_reader_yields_the_hex_files_distinct_messages_and_frames() {
    for scenario in SCENARIOS {
        let mut order: Vec<(String, String, Vec<u8>)> = Vec::new();
        let mut frames: BTreeMap<(String, String, Vec<u8>), Vec<u64>> = BTreeMap::new();
        for c in read_pcap(scenario) {
            let k = (c.src, c.dst, c.bytes);
            if !frames.contains_key(&k) {
                order.push(k.clone());
            }
            frames.entry(k).or_default().push(c.frame);
        }
        let want: Vec<(String, String, String, Vec<u8>)> = hex_entries(scenario)
            .into_iter()
            .map(|e| (e.src, e.dst, e.frames, e.bytes))
            .collect();
        let got: Vec<(String, String, String, Vec<u8>)> = order
            .into_iter()
            .map(|k| {
                let f: Vec<String> = frames[&k].iter().map(u64::to_string).collect();
                (k.0, k.1, f.join(","), k.2)
            })
            .collect();
        assert_eq!(got, want, "{scenario}");
    }
}

/// The messages README.md lists as spanning two TCP segments come out whole, completed by
/// the later frame.
#[test]
fn pcap_reader_reassembles_messages_that_span_two_segments() {
    // (scenario, frame that completes it, length) from tests/golden/README.md.
    let spanning: [(&str, u64, usize); 7] = [
        ("frr-leaf-ibgp", 12, 101),
        ("frr-leaf-ibgp", 15, 122),
        ("frr-leaf-ibgp", 18, 122),
        ("frr-leaf-ibgp", 32, 155),
        ("frr-leaf-ibgp", 36, 155),
        ("route-refresh", 9, 165),
        ("route-refresh", 11, 122),
    ];
    for (scenario, frame, len) in spanning {
        let msgs = read_pcap(scenario);
        let hit: Vec<&Captured> = msgs
            .iter()
            .filter(|m| m.frame == frame && m.bytes.len() == len)
            .collect();
        assert_eq!(hit.len(), 1, "{scenario} f{frame} len {len}");
        let m = Message::decode(&hit[0].bytes, &OPTS).expect("decodes");
        let Message::Update(u) = m else {
            panic!("{scenario} f{frame}: not an UPDATE")
        };
        assert!(u.malformations.is_empty() && !evpn_routes(&u).is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// 4. Semantics on top of the fields.
// ---------------------------------------------------------------------------------------

fn updates(scenario: &str) -> Vec<(HexEntry, Update)> {
    hex_entries(scenario)
        .into_iter()
        .filter_map(|e| match e.decode() {
            Message::Update(u) => Some((e, u)),
            _ => None,
        })
        .collect()
}

/// The leaf a route comes from: its router-id is the RD's address (FRR auto RD) and the
/// VTEP (next hop, type-3 originator).
fn route_origin(n: &EvpnNlri) -> Ipv4Addr {
    match n.rd() {
        Some(RouteDistinguisher::Ipv4 { addr, .. }) => addr,
        other => panic!("unexpected RD {other:?}"),
    }
}

#[test]
fn reflected_routes_carry_originator_id_of_the_leaf_and_cluster_list_of_the_spine() {
    let spine = Ipv4Addr::new(10, 0, 0, 254);
    let mut reflected = 0;
    for scenario in ["frr-leaf-ibgp", "route-refresh"] {
        for (e, u) in updates(scenario) {
            let Some(reach) = u.mp_reach() else { continue };
            let MpNlri::Evpn(routes) = &reach.nlri else {
                panic!("not EVPN")
            };
            if e.src == "spine" {
                reflected += 1;
                for n in routes {
                    let leaf = route_origin(n);
                    assert_eq!(u.originator_id(), Some(leaf), "{}", e.summary());
                    assert_eq!(reach.next_hop.ip(), Some(IpAddr::V4(leaf)));
                    if let EvpnNlri::InclusiveMulticast(r) = n {
                        assert_eq!(r.originator, IpAddr::V4(leaf));
                    }
                }
                assert_eq!(u.cluster_list(), [spine], "{}", e.summary());
                // Reflection adds MED 0 and keeps LOCAL_PREF (README, FRR 8.4).
                assert_eq!((u.med(), u.local_pref()), (Some(0), Some(100)));
            } else {
                assert_eq!(u.originator_id(), None, "{}", e.summary());
                assert!(u.cluster_list().is_empty());
                assert_eq!((u.med(), u.local_pref()), (None, Some(100)));
            }
        }
    }
    assert_eq!(reflected, 10, "reflected UPDATEs seen (7 + 3)");
}

/// Every advertisement's key, by capture.
fn advertised_keys(scenario: &str) -> Vec<(bgp::packet::evpn::EvpnRouteKey, EvpnNlri)> {
    updates(scenario)
        .iter()
        .filter_map(|(_, u)| u.mp_reach())
        .flat_map(|m| match &m.nlri {
            MpNlri::Evpn(l) => l.clone(),
            _ => vec![],
        })
        .map(|n| (n.key(), n))
        .collect()
}

fn withdrawn(scenario: &str) -> Vec<EvpnNlri> {
    updates(scenario)
        .iter()
        .filter_map(|(_, u)| u.mp_unreach())
        .flat_map(|m| match &m.nlri {
            MpNlri::Evpn(l) => l.clone(),
            _ => vec![],
        })
        .collect()
}

#[test]
fn frr_withdrawals_with_label_0_have_the_key_of_the_advertisement_with_the_vni() {
    let adv = advertised_keys("frr-leaf-ibgp");
    let wd = withdrawn("frr-leaf-ibgp");
    assert_eq!(wd.len(), 6, "2 UPDATEs x 3 routes");
    for w in &wd {
        let EvpnNlri::MacIp(r) = w else {
            panic!("FRR withdrew {w:?}")
        };
        assert_eq!(r.label1.vni(), 0, "FRR withdraws with label 0");
        let (_, a) = adv
            .iter()
            .find(|(k, _)| *k == w.key())
            .unwrap_or_else(|| panic!("no advertisement with the key of {w}"));
        let EvpnNlri::MacIp(a) = a else {
            panic!("{a:?}")
        };
        assert_eq!(a.label1.vni(), 100);
        assert_ne!(a, r, "the NLRI differ (label), only the key is equal");
    }
}

#[test]
fn gobgp_withdrawals_carry_the_vni_and_the_key_of_the_advertisement() {
    let adv = advertised_keys("gobgp-evpn");
    let wd = withdrawn("gobgp-evpn");
    assert_eq!(wd.len(), 4);
    for w in &wd {
        let (_, a) = adv
            .iter()
            .find(|(k, _)| *k == w.key())
            .unwrap_or_else(|| panic!("no advertisement with the key of {w}"));
        // GoBGP withdraws the very NLRI it advertised, label (VNI 100) included.
        assert_eq!(a, w);
        if let EvpnNlri::MacIp(r) = w {
            assert_eq!(r.label1.vni(), 100);
        }
    }
}

#[test]
fn is_end_of_rib_is_true_exactly_for_the_end_of_rib_messages() {
    let mut eor = Vec::new();
    for (scenario, e) in all_entries() {
        let Message::Update(u) = e.decode() else {
            continue;
        };
        // The golden summary is golden_hex.py's independent reading.
        let golden = e.summary().contains("End-of-RIB");
        let ours = u.is_end_of_rib();
        assert_eq!(ours.is_some(), golden, "{scenario} {}", e.summary());
        if let Some(f) = ours {
            assert_eq!(f, AfiSafi::L2VPN_EVPN);
            eor.push(format!("{scenario} {}->{}", e.src, e.dst));
        }
    }
    assert_eq!(
        eor,
        [
            "frr-leaf-ibgp leaf1->spine",
            "frr-leaf-ibgp spine->leaf1",
            "frr-ebgp spine->leaf1",
            "frr-ebgp leaf1->spine"
        ]
    );
}

#[test]
fn ebgp_spine_sends_the_leaf_its_own_route_with_the_leafs_as_in_as_path() {
    let mut own = 0;
    for (e, u) in updates("frr-ebgp") {
        let Some(reach) = u.mp_reach() else { continue };
        let MpNlri::Evpn(routes) = &reach.nlri else {
            panic!()
        };
        let origin_leaf = route_origin(&routes[0]);
        let path = u.as_path().expect("AS_PATH").clone();
        let want = match (e.src.as_str(), origin_leaf.octets()[3]) {
            ("leaf1", 1) => vec![65001],
            ("spine", 1) => vec![65000, 65001],
            ("spine", 2) => vec![65000, 65002],
            ("leaf1", 2) => vec![65001, 65000, 65002],
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(path, AsPath::sequence(want.clone()), "{}", e.summary());
        if e.src == "spine" && origin_leaf.octets()[3] == 1 {
            own += 1;
            assert!(path.segments[0].asns.contains(&65001));
            assert_eq!(path.first_as(), Some(65000));
        }
        // eBGP: no MED, no LOCAL_PREF, no reflection attributes; next hop unchanged.
        assert_eq!(
            (u.med(), u.local_pref(), u.originator_id()),
            (None, None, None)
        );
        assert_eq!(reach.next_hop.ip(), Some(IpAddr::V4(origin_leaf)));
    }
    assert_eq!(
        own, 3,
        "leaf1's type-2, type-3 and MAC+IP sent back by the spine"
    );
}

#[test]
fn hard_reset_notification_wraps_admin_shutdown_with_the_text() {
    let e = hex_entries("route-refresh")
        .into_iter()
        .find(|e| e.summary().starts_with("NOTIFICATION"))
        .expect("the NOTIFICATION");
    let Message::Notification(n) = e.decode() else {
        panic!()
    };
    assert_eq!((n.code, n.subcode), (6, 9));
    let inner = n.hard_reset_reason().expect("RFC 8538 hard reset");
    assert_eq!((inner.code, inner.subcode), (6, 2));
    assert_eq!(inner.shutdown_communication(), Some("evpnd-golden"));
    assert_eq!(
        n.shutdown_communication(),
        None,
        "the outer one is Hard Reset"
    );
}

#[test]
fn route_refresh_subtypes_request_borr_eorr() {
    let got: Vec<(String, RouteRefresh)> = hex_entries("route-refresh")
        .into_iter()
        .filter_map(|e| match e.decode() {
            Message::RouteRefresh(r) => Some((e.src, r)),
            _ => None,
        })
        .collect();
    let rr = |s| RouteRefresh::new(AfiSafi::L2VPN_EVPN, s);
    assert_eq!(
        got,
        [
            ("leaf1".into(), rr(RouteRefreshSubtype::Normal)),
            (
                "spine".into(),
                rr(RouteRefreshSubtype::BeginningOfRouteRefresh)
            ),
            ("spine".into(), rr(RouteRefreshSubtype::EndOfRouteRefresh)),
        ]
    );
}
