//! `evpnctl decode` from the outside: the real binary on the golden captures from FRR 8.4 and
//! GoBGP 3.10 (tests/golden/), on hand-made malformed messages, and on bad input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden(name: &str) -> PathBuf {
    repo().join("tests/golden").join(name)
}

fn evpnctl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evpnctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run evpnctl");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("evpnctl output")
}

fn json_of(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    v.as_array().expect("a JSON array").clone()
}

/// Message types in capture order, from the `.list` file written by the independent decoder
/// (golden_hex.py, cross-checked against tshark when the captures were made).
fn listed_types(list: &str) -> Vec<String> {
    let text = std::fs::read_to_string(golden(list)).expect("read .list");
    text.lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once(": ")?;
            head.trim_start().split('.').next()?.parse::<u32>().ok()?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect()
}

const CAPTURES: [&str; 4] = ["frr-leaf-ibgp", "frr-ebgp", "gobgp-evpn", "route-refresh"];

#[test]
fn every_captured_message_decodes_in_order() {
    for name in CAPTURES {
        let pcap = golden(&format!("{name}.pcap"));
        let out = evpnctl(
            &["decode", "--json", "--pcap", pcap.to_str().unwrap()],
            None,
        );
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let msgs = json_of(&out);
        let types: Vec<String> = msgs
            .iter()
            .map(|m| m["type"].as_str().unwrap().replace('-', "_"))
            .collect();
        let expected: Vec<String> = listed_types(&format!("{name}.list"))
            .into_iter()
            .map(|t| t.replace('-', "_"))
            .collect();
        assert_eq!(types, expected, "{name}: message types in capture order");
        for m in &msgs {
            assert!(m.get("error").is_none(), "{name}: {m}");
            if m["type"] == "UPDATE" {
                assert_eq!(m["verdict"], "accept", "{name}: {m}");
            }
        }
    }
}

#[test]
fn brief_prints_one_line_per_message() {
    let pcap = golden("frr-leaf-ibgp.pcap");
    let out = evpnctl(
        &["decode", "--brief", "--pcap", pcap.to_str().unwrap()],
        None,
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), listed_types("frr-leaf-ibgp.list").len());
    // leaf1's MAC+IP route and FRR's withdrawal of it (label 0), in FRR's notation.
    assert!(lines.iter().any(|l| {
        l.contains(
        "UPDATE len 109 nh 10.0.0.1 +[2]:[0]:[48]:[02:00:00:01:01:01]:[32]:[10.1.1.1] rd 10.0.0.1:2"
    )
    }));
    assert!(lines
        .iter()
        .any(|l| l.contains("-[2]:[0]:[48]:[02:00:00:01:01:01]:[32]:[10.1.1.1]")));
    assert!(lines.iter().any(|l| l.contains("End-of-RIB l2vpn/evpn")));
}

#[test]
fn hex_files_decode_from_stdin() {
    for name in CAPTURES {
        let text = std::fs::read_to_string(golden(&format!("{name}.hex"))).unwrap();
        let count = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        let out = evpnctl(&["decode", "--json"], Some(&text));
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json_of(&out).len(), count, "{name}");
    }
}

#[test]
fn json_fields_of_a_gobgp_mac_ip_route() {
    // GoBGP: type-2 MAC+IPv4, MP_REACH last with a 1-octet length (flags 0x80).
    let hex = "ffffffffffffffffffffffffffffffff006b02000000544001010240020040050400000064800e30001946040a00000900022500010a0000090064000000000000000000000000000030020000090101200a010109000064c010100002fde800000064030c000000000008";
    let out = evpnctl(&["decode", "--json", hex], None);
    assert!(out.status.success());
    let m = &json_of(&out)[0];
    let attrs = m["message"]["body"]["attributes"].as_array().unwrap();
    assert_eq!(attrs[0]["value"]["origin"], "incomplete");
    let reach = &attrs[3];
    assert_eq!(reach["flags"], 0x80);
    let r = &reach["value"]["mp_reach_nlri"];
    assert_eq!(r["next_hop"]["ipv4"], "10.0.0.9");
    let route = &r["nlri"]["evpn"][0];
    assert_eq!(
        route["route"],
        "[2]:[0]:[48]:[02:00:00:09:01:01]:[32]:[10.1.1.9]"
    );
    assert_eq!(route["rd"], "10.0.0.9:100");
    assert_eq!(route["mac"], "02:00:00:09:01:01");
    assert_eq!(route["ip"], "10.1.1.9");
    assert_eq!(route["label1"], 100);
    let ecs = attrs[4]["value"]["extended_communities"]
        .as_array()
        .unwrap();
    assert_eq!(ecs[0]["rt"], "65000:100");
    assert_eq!(ecs[0]["text"], "RT:65000:100");
    assert_eq!(ecs[1]["tunnel_type"], 8);
}

/// The readable tree of a whole capture, compared with a reviewed copy. Regenerate after an
/// intended change with `UPDATE_GOLDEN=1 cargo test -p evpnd --test decode_cli`.
#[test]
fn tree_output_matches_reviewed_copy() {
    for name in ["gobgp-evpn", "route-refresh"] {
        let pcap = golden(&format!("{name}.pcap"));
        let out = evpnctl(&["decode", "--pcap", pcap.to_str().unwrap()], None);
        assert!(out.status.success());
        let got = String::from_utf8(out.stdout).unwrap();
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/decode-{name}.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).expect("golden text (UPDATE_GOLDEN=1 to create)");
        assert_eq!(got, want, "{name}: tree output changed");
    }
}

#[test]
fn malformed_update_prints_verdict_and_exits_1() {
    // ORIGIN with flags 0xc0 (optional) instead of 0x40: attribute flags error, RFC 7606
    // section 3 (c): treat-as-withdraw; the NLRI is IPv4 10.0.0.0/8 so there is reachability.
    // Built by hand: ORIGIN(c0 01 01 00) AS_PATH(40 02 00) NEXT_HOP(40 03 04 0a000001), NLRI 8 0a
    let attrs = "c0010100400200400304".to_string() + "0a000001";
    let attr_len = attrs.len() / 2;
    let body = format!("0000{attr_len:04x}{attrs}080a");
    let total = 19 + body.len() / 2;
    let hex = format!("{}{total:04x}02{body}", "ff".repeat(16));
    let out = evpnctl(&["decode", "--json", &hex], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let m = &json_of(&out)[0];
    assert_eq!(m["verdict"], "treat_as_withdraw", "{m}");
    let text = evpnctl(&["decode", &hex], None);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("treat-as-withdraw"));
}

#[test]
fn header_errors_give_the_notification() {
    // Length 18 is below the minimum: the split hands it over whole; NOTIFICATION 1/2 with
    // the bad length as data.
    let hex = format!("{}001204", "ff".repeat(16));
    let out = evpnctl(&["decode", "--json", &hex], None);
    assert_eq!(out.status.code(), Some(1));
    let m = &json_of(&out)[0];
    assert_eq!(m["error"]["notification"]["code"], 1, "{m}");
    assert_eq!(m["error"]["notification"]["subcode"], 2, "{m}");
    // A broken marker: 1/1.
    let hex = format!("{}fe001304", "ff".repeat(15));
    let m = &json_of(&evpnctl(&["decode", "--json", &hex], None))[0];
    assert_eq!(m["error"]["notification"]["subcode"], 1, "{m}");
}

#[test]
fn bad_input_exits_2_without_panicking() {
    for (args, stdin) in [
        (vec!["decode", "xyz"], None),
        (vec!["decode", "fff"], None),
        (vec!["decode"], Some("")),
        (vec!["decode", "--pcap", "/nonexistent/file.pcap"], None),
    ] {
        let out = evpnctl(&args, stdin);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    // A file that is not a capture.
    let readme = golden("README.md");
    let out = evpnctl(&["decode", "--pcap", readme.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn truncated_and_random_bytes_never_panic() {
    let msg = "ffffffffffffffffffffffffffffffff006b02000000544001010240020040050400000064800e30001946040a00000900022500010a0000090064000000000000000000000000000030020000090101200a010109000064c010100002fde800000064030c000000000008";
    for cut in (38..msg.len()).step_by(6) {
        let out = evpnctl(&["decode", &msg[..cut]], None);
        assert!(matches!(out.status.code(), Some(0..=2)), "cut {cut}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "cut {cut}"
        );
    }
}
