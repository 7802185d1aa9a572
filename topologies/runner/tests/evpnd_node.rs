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
