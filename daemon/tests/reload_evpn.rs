//! SIGHUP on the `[evpn]` section and SIGTERM's `[fib] on_shutdown`, between two evpnd
//! leaves with kernels of their own (root only: two network namespaces of this test,
//! joined by a veth for BGP; each has br100/vxlan100 and br200/vxlan200).
//!
//! EVPN needs the kernel: a VNI is advertised only when a VXLAN device carries it
//! (`[fib] enabled = true`), and `[evpn] vnis` selects which of those. So leaf A has
//! VXLAN devices for 100 and 200 but advertises only `vnis = [100]`; leaf B advertises
//! all. Proves, with A's session to B never reset (established once, never dropped, at
//! both ends):
//! - adding 200 to `vnis`: B receives A's type-3 for VNI 200 with the auto RD/RT and
//!   programs A in its VNI 200 flood list;
//! - a per-VNI RD/RT override for 200: B holds exactly one type-3 of A for VNI 200, with
//!   the new RD and only the new RT (the old route withdrawn, not left beside it), and B,
//!   whose import RT no longer matches, drops A from its VNI 200 flood list;
//! - removing 200: A's VNI 200 route is withdrawn at B;
//! - SIGTERM with `on_shutdown = "keep"`: A's flood entry towards B stays in A's kernel;
//!   restarted, reloaded with `on_shutdown = "remove"`, SIGTERM: the entry is gone.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const A_BGP: &str = "10.99.81.1";
const B_BGP: &str = "10.99.81.2";
const A_VTEP: &str = "10.0.0.81";
const B_VTEP: &str = "10.0.0.82";

/// One leaf's namespace: its VTEP on lo, two bridges with a VXLAN device each.
fn leaf_ns(name: &str, vtep: &str) -> Netns {
    let ns = Netns::new(name);
    ns.sh("ip link set lo up");
    ns.sh(&format!("ip addr add {vtep}/32 dev lo"));
    for vni in [100, 200] {
        ns.sh(&format!("ip link add br{vni} type bridge"));
        ns.sh(&format!(
            "ip link add vxlan{vni} type vxlan id {vni} local {vtep} dstport 4789 nolearning"
        ));
        ns.sh(&format!("ip link set vxlan{vni} master br{vni}"));
        ns.sh(&format!("ip link set br{vni} up"));
        ns.sh(&format!("ip link set vxlan{vni} up"));
    }
    ns
}

fn leaf_config(dir: &Path, name: &str, me: &str, peer: &str, rid: &str, evpn: &str) -> String {
    format!(
        "[global]\nasn = 65000\nrouter_id = \"{rid}\"\nlisten = [\"{me}:179\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"debug\"\n\n\
         [[peer]]\naddress = \"{peer}\"\nremote_as = \"internal\"\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\n\n{evpn}\n",
        dir.join(name).join("evpnd.sock").display()
    )
}

/// Type-3 routes B holds from A for `vni`.
fn b_type3_from_a(dir: &Path, vni: u64) -> Vec<Value> {
    let v = ctl_json(dir, "b", &["show", "routes", "-j"]);
    let rows = v
        .as_array()
        .unwrap_or_else(|| panic!("evpnctl gave no JSON array: {v}"))
        .clone();
    rows.into_iter()
        .filter(|r| r["peer"] == A_BGP && r["route_type"] == 3 && r["vni"] == vni)
        .collect()
}

/// The flood-list entry (all-zero MAC) towards `dst` on `dev`, as evpnd programs it.
fn has_flood(ns: &str, dev: &str, dst: &str) -> bool {
    let o = ns_run(ns, &["bridge", "fdb", "show", "dev", dev]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .any(|l| l.starts_with("00:00:00:00:00:00") && l.contains(&format!("dst {dst} ")))
}

/// (established, dropped) of `peer`'s session as seen by `name`.
fn counters(dir: &Path, name: &str, peer: &str) -> (u64, u64) {
    let v = ctl_json(dir, name, &["show", "peer", peer, "-j"]);
    let c = &v["session"]["counters"];
    (
        c["established"].as_u64().unwrap_or(0),
        c["dropped"].as_u64().unwrap_or(0),
    )
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name).join("evpnd.log")).unwrap_or_default()
}

/// Writes `text` as `name`'s config, sends SIGHUP, waits for one more `marker` in its log.
fn reload(dir: &Path, name: &str, p: &Proc, text: &str, marker: &str) {
    let seen = log(dir, name).matches(marker).count();
    std::fs::write(dir.join(name).join("evpnd.toml"), text).unwrap();
    signal(&p.child, libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || log(dir, name)
            .matches(marker)
            .count()
            > seen),
        "{name}: no {marker:?} after SIGHUP:\n{}",
        log(dir, name)
    );
}

fn sigterm_and_wait(p: &mut Proc, what: &str) {
    signal(&p.child, libc::SIGTERM);
    let mut st = None;
    wait_until(Duration::from_secs(15), || {
        st = p.child.try_wait().ok().flatten();
        st.is_some()
    });
    let st = st.unwrap_or_else(|| panic!("{what} did not exit after SIGTERM"));
    assert!(st.success(), "{what} exit {st:?}");
}

#[test]
fn sighup_adds_changes_and_removes_vnis_and_sigterm_keeps_or_removes_entries() {
    let dir = scratch("reload-evpn");
    let pid = std::process::id();
    let na = leaf_ns(&format!("evt-reload-a-{pid}"), A_VTEP);
    let nb = leaf_ns(&format!("evt-reload-b-{pid}"), B_VTEP);
    na.sh(&format!(
        "ip link add rl-a type veth peer name rl-b netns {}",
        nb.0
    ));
    na.sh(&format!("ip addr add {A_BGP}/24 dev rl-a"));
    nb.sh(&format!("ip addr add {B_BGP}/24 dev rl-b"));
    na.sh("ip link set rl-a up");
    nb.sh("ip link set rl-b up");

    let a_cfg = |vnis: &str, overrides: &str, on_shutdown: &str| {
        leaf_config(
            &dir,
            "a",
            A_BGP,
            B_BGP,
            A_VTEP,
            &format!(
                "[evpn]\nadvertise_all_vni = false\nvnis = [{vnis}]\n{overrides}\n\
                 [fib]\non_shutdown = \"{on_shutdown}\"\n"
            ),
        )
    };
    let b_text = leaf_config(
        &dir,
        "b",
        B_BGP,
        A_BGP,
        B_VTEP,
        "[evpn]\nadvertise_all_vni = true\n\n[fib]\non_shutdown = \"keep\"\n",
    );
    let _b = start_evpnd_in(&dir, "b", &nb.0, &b_text);
    let mut a = start_evpnd_in(&dir, "a", &na.0, &a_cfg("100", "", "keep"));
    let sockets = || {
        ["a", "b"]
            .iter()
            .all(|n| dir.join(n).join("evpnd.sock").exists())
    };
    assert!(
        wait_until(Duration::from_secs(10), sockets),
        "no control sockets"
    );

    // Only VNI 100 from A; B's flood entry towards A only in VNI 100.
    let ok = wait_until(Duration::from_secs(30), || {
        b_type3_from_a(&dir, 100).len() == 1 && has_flood(&na.0, "vxlan100", B_VTEP)
    });
    assert!(
        ok,
        "no VNI 100 exchange:\n{}\n{}",
        log(&dir, "a"),
        log(&dir, "b")
    );
    assert!(b_type3_from_a(&dir, 200).is_empty());
    assert!(!has_flood(&nb.0, "vxlan200", A_VTEP));
    let untouched = |when: &str| {
        assert_eq!(
            counters(&dir, "a", B_BGP),
            (1, 0),
            "A's session reset {when}:\n{}\n{}",
            log(&dir, "a"),
            log(&dir, "b")
        );
        assert_eq!(
            counters(&dir, "b", A_BGP),
            (1, 0),
            "B's session reset {when}:\n{}\n{}",
            log(&dir, "a"),
            log(&dir, "b")
        );
    };
    untouched("at start");

    // 1. VNI 200 added: advertised with the auto RD/RT (RT AS:VNI), B floods to A.
    reload(
        &dir,
        "a",
        &a,
        &a_cfg("100, 200", "", "keep"),
        "configuration reloaded",
    );
    let ok = wait_until(Duration::from_secs(15), || {
        b_type3_from_a(&dir, 200).len() == 1 && has_flood(&nb.0, "vxlan200", A_VTEP)
    });
    assert!(
        ok,
        "VNI 200 not advertised: {:?}",
        b_type3_from_a(&dir, 200)
    );
    let r = &b_type3_from_a(&dir, 200)[0];
    assert_eq!(r["route_targets"], serde_json::json!(["65000:200"]), "{r}");
    assert!(
        r["rd"].as_str().is_some_and(|rd| rd.starts_with(A_VTEP)),
        "{r}"
    );
    assert_eq!(r["next_hop"], A_VTEP, "{r}");
    untouched("by adding a VNI");

    // 2. RD/RT override for 200: the route is replaced, not duplicated.
    reload(
        &dir,
        "a",
        &a,
        &a_cfg(
            "100, 200",
            "[evpn.vni.200]\nrd = \"10.0.0.81:2200\"\nexport_rt = [\"65000:2200\"]\n",
            "keep",
        ),
        "configuration reloaded",
    );
    let ok = wait_until(Duration::from_secs(15), || {
        let rs = b_type3_from_a(&dir, 200);
        rs.len() == 1
            && rs[0]["rd"] == "10.0.0.81:2200"
            && rs[0]["route_targets"] == serde_json::json!(["65000:2200"])
    });
    assert!(
        ok,
        "override not re-advertised: {:?}",
        b_type3_from_a(&dir, 200)
    );
    // B imports VNI 200 with 65000:200 only: A leaves its flood list.
    assert!(
        wait_until(Duration::from_secs(10), || !has_flood(
            &nb.0, "vxlan200", A_VTEP
        )),
        "B still floods VNI 200 to A after A's RT changed"
    );
    assert_eq!(b_type3_from_a(&dir, 100).len(), 1, "VNI 100 disturbed");
    untouched("by an RD/RT override");

    // 3. VNI 200 removed: withdrawn; VNI 100 stays.
    reload(
        &dir,
        "a",
        &a,
        &a_cfg("100", "", "keep"),
        "configuration reloaded",
    );
    assert!(
        wait_until(Duration::from_secs(15), || b_type3_from_a(&dir, 200)
            .is_empty()),
        "VNI 200 not withdrawn: {:?}",
        b_type3_from_a(&dir, 200)
    );
    assert_eq!(b_type3_from_a(&dir, 100).len(), 1);
    untouched("by removing a VNI");

    // 4. SIGTERM, on_shutdown = "keep": A's entry towards B stays in A's kernel.
    sigterm_and_wait(&mut a, "evpnd A (keep)");
    assert!(
        has_flood(&na.0, "vxlan100", B_VTEP),
        "keep: A's flood entry removed at shutdown"
    );

    // 5. Restarted (it finds its entries: a graceful restart), reloaded to "remove",
    // SIGTERM: A's entries go with it.
    drop(a);
    let mut a = start_evpnd_in(&dir, "a", &na.0, &a_cfg("100", "", "keep"));
    let ok = wait_until(Duration::from_secs(30), || {
        dir.join("a/evpnd.sock").exists()
            && log(&dir, "a").contains("graceful restart over")
            && b_type3_from_a(&dir, 100).len() == 1
    });
    assert!(ok, "A not back:\n{}", log(&dir, "a"));
    assert!(has_flood(&na.0, "vxlan100", B_VTEP));
    reload(
        &dir,
        "a",
        &a,
        &a_cfg("100", "", "remove"),
        "configuration reloaded",
    );
    sigterm_and_wait(&mut a, "evpnd A (remove)");
    assert!(
        !has_flood(&na.0, "vxlan100", B_VTEP),
        "remove: A's flood entry left at shutdown"
    );
}
