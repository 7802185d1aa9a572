//! The `evpnd` node kind (root only), with a stand-in for the not yet written daemon: a
//! script that records its arguments and namespace and stays alive.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn write_lab(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("evt-lab-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("evpnd.toml"), "# stand-in config\n").expect("config");
    let file = dir.join("evpnd.clab.yml");
    std::fs::write(
        &file,
        r#"name: evpnd-node
topology:
  nodes:
    leaf1:
      kind: linux
      image: ghcr.io/example/evpnd:dev
      binds:
        - evpnd.toml:/etc/evpnd/evpnd.toml
      env:
        EVPND_LOG: debug
      exec:
        - ip addr add 192.0.2.1/24 dev eth1
    h1:
      kind: linux
      image: alpine:3
      exec:
        - ip addr add 192.0.2.2/24 dev eth1
  links:
    - endpoints: ["leaf1:eth1", "h1:eth1"]
"#,
    )
    .expect("topology");
    // Stays a shell (not exec) so the runner sees the script as the daemon's program.
    let fake = dir.join("fake-evpnd");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" > {d}/args\nreadlink /proc/self/ns/net > {d}/netns\n\
             echo \"$EVPND_LOG\" > {d}/env\n\
             echo \"$EVPND_CONTROL__SOCKET\" > {d}/socket\nwhile :; do sleep 1; done\n",
            d = dir.display()
        ),
    )
    .expect("fake evpnd");
    std::process::Command::new("chmod")
        .args(["+x", fake.to_str().expect("utf-8")])
        .status()
        .expect("chmod");
    (file, fake)
}

#[test]
fn evpnd_node_runs_the_binary_with_its_config() {
    require_root();
    let name = lab_name("evpnd");
    let (file, fake) = write_lab("evpnd");
    let dir = file.parent().expect("dir").to_path_buf();
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let fake_s = fake.to_str().expect("utf-8");

    let o = evpnlab_env(&["--name", &name, "up", f], &[("EVPND_BIN", fake_s)]);
    assert!(o.status.success(), "{}", text(&o));
    let args = poll(Duration::from_secs(5), || {
        std::fs::read_to_string(dir.join("args")).ok()
    })
    .expect("stand-in evpnd ran");
    assert_eq!(
        args.trim(),
        format!("--config {}", dir.join("evpnd.toml").display())
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("env"))
            .unwrap_or_default()
            .trim(),
        "debug"
    );
    // Its control socket is the node's own, not the config's shared default.
    assert_eq!(
        std::fs::read_to_string(dir.join("socket"))
            .unwrap_or_default()
            .trim(),
        evpnlab::state::LabDir::new(&name)
            .node_dir("leaf1")
            .join("evpnd.sock")
            .display()
            .to_string()
    );
    // It runs inside leaf1's namespace, not the root one.
    let ns = std::fs::read_to_string(dir.join("netns")).unwrap_or_default();
    let root_ns = std::fs::read_link("/proc/self/ns/net").expect("own netns");
    assert_ne!(
        ns.trim(),
        root_ns.to_string_lossy(),
        "evpnd ran in the root namespace"
    );

    let o = ok(&name, "status", &file, &["--json"]);
    let st: Value = serde_json::from_slice(&o.stdout).expect("json");
    let leaf = st["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == "leaf1"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(leaf["role"], "evpnd", "{st}");
    assert_eq!(leaf["daemons"][0]["name"], "evpnd", "{st}");
    assert_eq!(leaf["daemons"][0]["running"], true, "{st}");
    let pid = leaf["daemons"][0]["pid"].as_i64().expect("pid");

    ok(&name, "down", &file, &[]);
    assert!(
        !evpnlab::sys::pid_running(pid as i32),
        "evpnd stand-in still running after down"
    );
}

#[test]
fn evpnd_node_without_binary_fails_before_creating_anything() {
    require_root();
    let name = lab_name("noevpnd");
    let (file, _fake) = write_lab("noevpnd");
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    // EVPND_BIN pointing at nothing: up must say so, not half-build the lab.
    let o = evpnlab_env(
        &["--name", &name, "up", f],
        &[("EVPND_BIN", "/nonexistent/evpnd")],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("EVPND_BIN"), "{err}");
    assert_eq!(
        namespaces_with_prefix(&format!("clab-{name}-")),
        Vec::<String>::new()
    );
    assert!(!Path::new("/run/evpnlab").join(&name).exists());
}

/// The pid `status --json` reports for leaf1's evpnd, and whether it runs.
fn evpnd_status(name: &str, file: &Path) -> (i64, bool) {
    let o = evpnlab(&[
        "--name",
        name,
        "status",
        file.to_str().expect("utf-8"),
        "--json",
    ]);
    let st: Value = serde_json::from_slice(&o.stdout).expect("status json");
    let d = st["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == "leaf1"))
        .map(|n| n["daemons"][0].clone())
        .unwrap_or_default();
    (d["pid"].as_i64().unwrap_or(0), d["running"] == true)
}

#[test]
fn evpnd_node_stop_start_and_evpnctl_socket() {
    require_root();
    let name = lab_name("evpndss");
    let (file, fake) = write_lab("evpndss");
    let dir = file.parent().expect("dir").to_path_buf();
    let _guard = LabGuard::new(&name, &file);
    // A stand-in evpnctl next to the stand-in evpnd: prints its arguments.
    let ctl = dir.join("evpnctl");
    std::fs::write(&ctl, "#!/bin/sh\necho \"$@\"\n").expect("fake evpnctl");
    std::process::Command::new("chmod")
        .args(["+x", ctl.to_str().expect("utf-8")])
        .status()
        .expect("chmod");
    let (f, ctl_s) = (file.to_str().expect("utf-8"), ctl.to_str().expect("utf-8"));
    let o = evpnlab_env(
        &["--name", &name, "up", f],
        &[("EVPND_BIN", fake.to_str().expect("utf-8"))],
    );
    assert!(o.status.success(), "{}", text(&o));
    let sock = evpnlab::state::LabDir::new(&name)
        .node_dir("leaf1")
        .join("evpnd.sock");

    // `exec leaf1 -- evpnctl ...` talks to leaf1's own evpnd; a given --socket is kept.
    let o = lab_exec(&name, &file, "leaf1", &[ctl_s, "show", "peers", "-j"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("--socket {} show peers -j", sock.display())
    );
    let o = lab_exec(
        &name,
        &file,
        "leaf1",
        &[ctl_s, "--socket=/x", "show", "vni"],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "--socket=/x show vni"
    );

    let (pid0, running) = evpnd_status(&name, &file);
    assert!(running && pid0 > 0);
    // stop: SIGTERM, gone, reported dead; a second stop says it is not running.
    ok(&name, "stop", &file, &["leaf1"]);
    assert!(!evpnlab::sys::pid_running(pid0 as i32), "still running");
    assert!(!evpnd_status(&name, &file).1, "status says running");
    let o = evpnlab(&["--name", &name, "stop", f, "leaf1"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not running"), "{}", text(&o));

    // start: the same program with the same config and env, a new pid that status and
    // down know about; a second start refuses.
    std::fs::remove_file(dir.join("args")).expect("args of the first run");
    ok(&name, "start", &file, &["leaf1"]);
    let args = poll(Duration::from_secs(5), || {
        std::fs::read_to_string(dir.join("args")).ok()
    })
    .expect("stand-in evpnd ran again");
    assert_eq!(
        args.trim(),
        format!("--config {}", dir.join("evpnd.toml").display())
    );
    let (pid1, running) = evpnd_status(&name, &file);
    assert!(running && pid1 != pid0, "pid {pid1} running {running}");
    let o = evpnlab(&["--name", &name, "start", f, "leaf1"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("already running"), "{}", text(&o));

    // --kill: SIGKILL.
    ok(&name, "stop", &file, &["leaf1", "--kill"]);
    assert!(!evpnlab::sys::pid_running(pid1 as i32), "still running");
    // Hosts have no daemon to stop.
    let o = evpnlab(&["--name", &name, "stop", f, "h1"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("evpnd nodes only"), "{}", text(&o));

    ok(&name, "start", &file, &["leaf1"]);
    let (pid2, _) = evpnd_status(&name, &file);
    down_leaves_nothing(&name, &file);
    assert!(
        !evpnlab::sys::pid_running(pid2 as i32),
        "restarted evpnd survived down"
    );
}
