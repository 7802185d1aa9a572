//! evpnctl tables from fixed control API answers (tests/golden/ctl/*.json) compared with
//! the expected text; `EVPND_BLESS=1` rewrites the expected files.

use std::path::Path;
use std::process::Command;

use evpnd::control::{PeerDetail, PeerSummary};
use evpnd::ctl;

fn render(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("golden JSON");
    let first = v.as_array().and_then(|a| a.first());
    if first.is_some_and(|r| r.get("prefix").is_some() && r.get("route_type").is_none()) {
        let rows: Vec<evpnd::routes::Ipv4RouteView> =
            serde_json::from_value(v).expect("show_ipv4_routes schema");
        ctl::render_ipv4_routes(&rows)
    } else if first.is_some_and(|r| r.get("prefix").is_some()) {
        let rows: Vec<evpnd::routes::RouteView> =
            serde_json::from_value(v).expect("show_routes schema");
        ctl::render_routes(&rows)
    } else if v.is_array() {
        let peers: Vec<PeerSummary> = serde_json::from_value(v).expect("show_peers schema");
        ctl::render_peers(&peers)
    } else {
        let d: PeerDetail = serde_json::from_value(v).expect("show_peer schema");
        ctl::render_peer(&d)
    }
}

#[test]
fn tables_match_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/ctl");
    let bless = std::env::var_os("EVPND_BLESS").is_some();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("golden dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        n += 1;
        let got = render(&std::fs::read_to_string(&path).expect("read json"));
        for line in got.lines() {
            assert!(
                line.len() <= 80,
                "{}: line over 80 columns: {line:?}",
                path.display()
            );
        }
        let want_path = path.with_extension("txt");
        if bless {
            std::fs::write(&want_path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&want_path)
            .unwrap_or_else(|_| panic!("{} missing: run with EVPND_BLESS=1", want_path.display()));
        assert_eq!(
            got,
            want,
            "{} differs (EVPND_BLESS=1 to regenerate)",
            want_path.display()
        );
    }
    assert!(n >= 3, "golden inputs missing in {}", dir.display());
}

/// The same JSON, through the schema round trip: what evpnd serializes is what evpnctl
/// reads (no field lost or renamed).
#[test]
fn schema_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/ctl");
    let text = std::fs::read_to_string(dir.join("show_peer_established.json")).unwrap();
    let d: PeerDetail = serde_json::from_str(&text).unwrap();
    let back: serde_json::Value = serde_json::to_value(&d).unwrap();
    let orig: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, orig);
}

#[test]
fn request_schema_is_stable() {
    use evpnd::control::{Command as C, Request};
    let r: Request = serde_json::from_str(
        r#"{"version":1,"command":"clear_peer","address":"10.0.0.1","soft":true}"#,
    )
    .unwrap();
    assert_eq!(
        r.command,
        C::ClearPeer {
            address: "10.0.0.1".parse().unwrap(),
            soft: true
        }
    );
    let r: Request =
        serde_json::from_str(r#"{"version":1,"command":"show_routes","type":2,"vni":100}"#)
            .unwrap();
    let C::ShowRoutes { filter } = r.command else {
        panic!("show_routes")
    };
    assert_eq!(
        (filter.route_type, filter.vni, filter.mac),
        (Some(2), Some(100), None)
    );
    let r: Request = serde_json::from_str(r#"{"version":1,"command":"show_peers"}"#).unwrap();
    assert_eq!(r.command, C::ShowPeers);
    assert_eq!(
        serde_json::to_string(&Request {
            version: 1,
            command: C::ShowPeer {
                address: "::1".parse().unwrap()
            }
        })
        .unwrap(),
        r#"{"version":1,"command":"show_peer","address":"::1"}"#
    );
    // evpnctl --help works for every subcommand.
    for args in [
        &["--help"][..],
        &["show", "--help"],
        &["show", "peers", "--help"],
        &["clear", "peer", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_evpnctl"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
    }
}
