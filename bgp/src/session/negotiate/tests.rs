use std::net::Ipv4Addr;

use super::*;
use crate::packet::capability::AddPathFamily;
use crate::packet::open::OptionalParameter;
use crate::session::config::GracefulRestartConfig;

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const THEM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn cfg(local_as: u32, remote: RemoteAs) -> PeerConfig {
    PeerConfig::new(
        local_as,
        remote,
        US,
        vec![AfiSafi::L2VPN_EVPN, AfiSafi::IPV4_UNICAST],
    )
}

/// A peer OPEN like FRR's: MP for the given families, RR, ERR, 4-octet AS, plus extras.
fn peer_open(asn: u32, hold: u16, fams: &[AfiSafi], extra: Vec<Capability>) -> Open {
    let mut caps: Vec<Capability> = fams.iter().map(|f| Capability::Multiprotocol(*f)).collect();
    caps.push(Capability::RouteRefresh);
    caps.push(Capability::EnhancedRouteRefresh);
    caps.push(Capability::FourOctetAs(asn));
    caps.extend(extra);
    Open::new(asn, hold, THEM, caps)
}

/// The capability list of an OPEN built by `Open::new` (one capabilities parameter).
fn caps_mut(o: &mut Open) -> &mut Vec<Capability> {
    match o.params.first_mut() {
        Some(OptionalParameter::Capabilities(c)) => c,
        None => panic!("OPEN without capabilities parameter"),
    }
}

fn run(c: &PeerConfig, theirs: &Open) -> Result<Negotiated, OpenError> {
    negotiate(c, &build_open(c), theirs)
}

fn code(e: OpenError) -> (u8, u8, Vec<u8>) {
    let n = e.notification();
    (n.code, n.subcode, n.data)
}

#[test]
fn our_open_uses_as_trans_and_announces_no_add_path() {
    let mut c = cfg(4_200_000_001, RemoteAs::External);
    c.hostname = Some("leaf1".into());
    c.domain = Some("lab".into());
    let o = build_open(&c);
    assert_eq!(o.my_as, AS_TRANS);
    assert_eq!(o.version, 4);
    assert_eq!(o.hold_time, 90);
    assert!(o
        .capabilities()
        .any(|c| *c == Capability::FourOctetAs(4_200_000_001)));
    assert!(o
        .capabilities()
        .any(|c| *c == Capability::Multiprotocol(AfiSafi::L2VPN_EVPN)));
    assert!(o.capabilities().any(|c| *c == Capability::ExtendedMessage));
    assert!(o.capabilities().any(|c| *c
        == Capability::Fqdn {
            hostname: "leaf1".into(),
            domain: "lab".into()
        }));
    assert!(!o
        .capabilities()
        .any(|c| matches!(c, Capability::AddPath(_))));
    assert_eq!(build_open(&cfg(65001, RemoteAs::External)).my_as, 65001);
}

#[test]
fn families_are_the_intersection() {
    let c = cfg(65001, RemoteAs::Asn(65002));
    let n = run(
        &c,
        &peer_open(
            65002,
            90,
            &[AfiSafi::L2VPN_EVPN, AfiSafi::IPV6_UNICAST],
            vec![],
        ),
    )
    .unwrap();
    assert_eq!(n.families, vec![AfiSafi::L2VPN_EVPN]);
    assert!(!n.has_family(AfiSafi::IPV6_UNICAST));
    // A peer with no MP capability at all speaks IPv4 unicast.
    let mut plain = peer_open(65002, 90, &[], vec![]);
    caps_mut(&mut plain).clear();
    let n = run(&c, &plain).unwrap();
    assert_eq!(n.families, vec![AfiSafi::IPV4_UNICAST]);
    assert!(!n.four_octet_as);
}

#[test]
fn no_common_family_is_unsupported_capability_with_our_mp_caps() {
    let c = PeerConfig::new(65001, RemoteAs::Asn(65002), US, vec![AfiSafi::L2VPN_EVPN]);
    let e = run(&c, &peer_open(65002, 90, &[AfiSafi::IPV6_UNICAST], vec![])).unwrap_err();
    assert_eq!(code(e), (2, 7, vec![1, 4, 0, 25, 0, 70]));
}

#[test]
fn four_octet_as_with_as_trans() {
    let c = cfg(65001, RemoteAs::Asn(4_200_000_002));
    let theirs = peer_open(4_200_000_002, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    assert_eq!(theirs.my_as, AS_TRANS);
    let n = run(&c, &theirs).unwrap();
    assert_eq!(n.peer_as, 4_200_000_002);
    assert!(n.four_octet_as);
    assert!(n.codec.four_octet_as);
    assert!(!n.ibgp);
}

#[test]
fn as_trans_without_capability_is_bad_peer_as() {
    let c = cfg(65001, RemoteAs::External);
    let mut theirs = peer_open(23456, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    caps_mut(&mut theirs).retain(|c| !matches!(c, Capability::FourOctetAs(_)));
    assert_eq!(
        code(run(&c, &theirs).unwrap_err()),
        (2, 2, vec![0x5b, 0xa0])
    );
}

#[test]
fn bad_peer_as_cases() {
    let theirs = peer_open(65003, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    // Configured AS differs: 2/2 with the My AS field as data.
    let e = run(&cfg(65001, RemoteAs::Asn(65002)), &theirs).unwrap_err();
    assert!(matches!(
        e,
        OpenError::BadPeerAs {
            announced: 65003,
            ..
        }
    ));
    assert_eq!(code(e), (2, 2, 65003u16.to_be_bytes().to_vec()));
    // remote-as internal refuses another AS; external refuses ours.
    assert!(run(&cfg(65001, RemoteAs::Internal), &theirs).is_err());
    let ibgp = peer_open(65001, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    assert!(run(&cfg(65001, RemoteAs::External), &ibgp).is_err());
    let n = run(&cfg(65001, RemoteAs::Internal), &ibgp).unwrap();
    assert!(n.ibgp);
    assert!(run(&cfg(65001, RemoteAs::External), &theirs).is_ok());
}

#[test]
fn hold_time_negotiation() {
    let c = cfg(65001, RemoteAs::Asn(65002)); // we offer 90
    for (theirs, hold, keepalive) in [(180, 90, 30), (30, 30, 10), (3, 3, 1), (0, 0, 0)] {
        let n = run(
            &c,
            &peer_open(65002, theirs, &[AfiSafi::L2VPN_EVPN], vec![]),
        )
        .unwrap();
        assert_eq!(
            (n.hold_time, n.keepalive),
            (hold, keepalive),
            "peer hold {theirs}"
        );
    }
    for bad in [1, 2] {
        let e = run(&c, &peer_open(65002, bad, &[AfiSafi::L2VPN_EVPN], vec![])).unwrap_err();
        assert_eq!(code(e), (2, 6, vec![]));
    }
    // Our hold 0 wins too; a configured keepalive caps hold/3.
    let mut c0 = c.clone();
    c0.timers.hold_time = 0;
    assert_eq!(
        run(&c0, &peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![]))
            .unwrap()
            .hold_time,
        0
    );
    let mut ck = c.clone();
    ck.timers.keepalive = Some(5);
    assert_eq!(
        run(&ck, &peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![]))
            .unwrap()
            .keepalive,
        5
    );
}

#[test]
fn bad_identifier_and_version() {
    let c = cfg(65001, RemoteAs::Internal);
    let mut theirs = peer_open(65001, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    theirs.bgp_id = US; // same as ours on iBGP
    assert_eq!(code(run(&c, &theirs).unwrap_err()), (2, 3, vec![]));
    theirs.bgp_id = Ipv4Addr::UNSPECIFIED;
    assert_eq!(code(run(&c, &theirs).unwrap_err()), (2, 3, vec![]));
    // On eBGP the same identifier is legal (RFC 6286).
    let mut ebgp = peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    ebgp.bgp_id = US;
    assert!(run(&cfg(65001, RemoteAs::External), &ebgp).is_ok());
    let mut v3 = peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    v3.version = 3;
    assert_eq!(code(run(&c, &v3).unwrap_err()), (2, 1, vec![0, 4]));
}

#[test]
fn extended_message_only_if_both_sent_it() {
    let c = cfg(65001, RemoteAs::Asn(65002));
    let with = peer_open(
        65002,
        90,
        &[AfiSafi::L2VPN_EVPN],
        vec![Capability::ExtendedMessage],
    );
    let without = peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    let n = run(&c, &with).unwrap();
    assert!(n.extended_message && n.codec.extended_message);
    assert_eq!(n.max_message_size, 65535);
    let n = run(&c, &without).unwrap();
    assert!(!n.extended_message && !n.codec.extended_message);
    assert_eq!(n.max_message_size, 4096);
    let mut c_off = c.clone();
    c_off.extended_message = false;
    let n = run(&c_off, &with).unwrap();
    assert_eq!(n.max_message_size, 4096);
}

#[test]
fn route_refresh_flags_need_both_sides() {
    let mut c = cfg(65001, RemoteAs::Asn(65002));
    let theirs = peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![]);
    let n = run(&c, &theirs).unwrap();
    assert!(n.route_refresh && n.enhanced_route_refresh);
    c.enhanced_route_refresh = false;
    let n = run(&c, &theirs).unwrap();
    assert!(n.route_refresh && !n.enhanced_route_refresh);
}

#[test]
fn graceful_restart_peer_parameters() {
    let mut c = cfg(65001, RemoteAs::Asn(65002));
    c.graceful_restart = Some(GracefulRestartConfig {
        restart_time: 120,
        restarting: false,
        notification: true,
        preserved: vec![],
    });
    let gr = |n_bit: bool| {
        Capability::GracefulRestart(GracefulRestart {
            restart_flags: GR_RESTART_STATE | if n_bit { GR_NOTIFICATION } else { 0 },
            restart_time: 300,
            families: vec![
                GracefulRestartFamily {
                    family: AfiSafi::L2VPN_EVPN,
                    flags: GR_FORWARDING_PRESERVED,
                },
                GracefulRestartFamily {
                    family: AfiSafi::IPV6_UNICAST,
                    flags: GR_FORWARDING_PRESERVED,
                },
            ],
        })
    };
    let n = run(
        &c,
        &peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![gr(true)]),
    )
    .unwrap();
    let g = n.graceful_restart.unwrap();
    assert_eq!(g.restart_time, 300);
    assert!(g.restart_state && g.notification);
    // IPv6 was not negotiated, so its F-bit is irrelevant.
    assert_eq!(g.preserved, vec![AfiSafi::L2VPN_EVPN]);
    assert_eq!(g.families, vec![AfiSafi::L2VPN_EVPN]);
    // N-bit counts only when both sides set it.
    let n = run(
        &c,
        &peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![gr(false)]),
    )
    .unwrap();
    assert!(!n.graceful_restart.unwrap().notification);
    c.graceful_restart = None;
    let n = run(
        &c,
        &peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], vec![gr(true)]),
    )
    .unwrap();
    assert!(!n.graceful_restart.unwrap().notification);
}

#[test]
fn add_path_fqdn_and_unknown_capabilities_are_accepted() {
    let c = cfg(65001, RemoteAs::Asn(65002));
    let extra = vec![
        Capability::AddPath(vec![AddPathFamily {
            family: AfiSafi::L2VPN_EVPN,
            send_receive: 3,
        }]),
        Capability::Fqdn {
            hostname: "spine1".into(),
            domain: String::new(),
        },
        Capability::Unknown {
            code: 71,
            value: vec![],
        },
    ];
    let n = run(&c, &peer_open(65002, 90, &[AfiSafi::L2VPN_EVPN], extra)).unwrap();
    assert!(n.peer_offered_add_path);
    assert_eq!(n.peer_hostname.as_deref(), Some("spine1"));
    assert_eq!(n.unknown_capabilities, vec![71]);
}
