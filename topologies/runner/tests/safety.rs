//! The runner only ever touches what it created, cleans up after a failed `up`, and a new
//! `up` recovers from a runner that died half-way (root only).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Puts a marker interface into a namespace the test owns, to prove later it was untouched.
fn mark(ns: &str) {
    // A veth pair: this kernel has no dummy driver.
    ip(&[
        "-n", ns, "link", "add", "name", "evtmark", "type", "veth", "peer", "name", "evtmark2",
    ]);
}

fn marked(ns: &str) -> bool {
    std::process::Command::new("ip")
        .args(["-n", ns, "link", "show", "dev", "evtmark"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn up_refuses_a_namespace_it_did_not_create() {
    require_root();
    let name = lab_name("refuse");
    let file = write_hosts_lab("refuse", "");
    let foreign = format!("clab-{name}-h2");
    let mut guard = LabGuard::new(&name, &file);
    guard.own_namespaces.push(foreign.clone());
    ip(&["netns", "add", &foreign]);
    mark(&foreign);

    let f = file.to_str().expect("utf-8");
    let o = evpnlab(&["--name", &name, "up", f]);
    assert!(!o.status.success(), "up over a foreign namespace must fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refusing") && err.contains(&foreign), "{err}");
    // Nothing was created, the foreign namespace is intact, and down does not touch it.
    assert!(!namespace_exists(&format!("clab-{name}-h1")));
    assert!(marked(&foreign));
    ok(&name, "down", &file, &[]);
    assert!(
        marked(&foreign),
        "down deleted a namespace it did not create"
    );
}

#[test]
fn down_leaves_foreign_and_replaced_namespaces_alone() {
    require_root();
    let name = lab_name("foreign");
    let file = write_hosts_lab("foreign", "");
    let stranger = format!("clab-{name}-stranger");
    let h2 = format!("clab-{name}-h2");
    let mut guard = LabGuard::new(&name, &file);
    guard.own_namespaces.push(stranger.clone());
    guard.own_namespaces.push(h2.clone());
    // A pre-existing namespace with the lab's prefix that is not part of it.
    ip(&["netns", "add", &stranger]);
    mark(&stranger);

    ok(&name, "up", &file, &[]);
    let f = file.to_str().expect("utf-8");
    let o = lab_exec(
        &name,
        &file,
        "h1",
        &["ping", "-c", "1", "-W", "2", "192.0.2.2"],
    );
    assert!(o.status.success(), "h1 -> h2 over the veth: {}", text(&o));

    // Someone replaces h2's namespace with their own under the same name.
    ip(&["netns", "del", &h2]);
    ip(&["netns", "add", &h2]);
    mark(&h2);
    let o = evpnlab(&["--name", &name, "status", f, "--json"]);
    assert_eq!(o.status.code(), Some(3), "status must report a broken lab");
    let st: Value = serde_json::from_slice(&o.stdout).expect("status json");
    let h2_status = st["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["name"] == "h2"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(h2_status["namespace_ok"], false, "{st}");
    // exec refuses to run in a namespace that is not ours.
    let o = lab_exec(&name, &file, "h2", &["true"]);
    assert!(!o.status.success());

    ok(&name, "down", &file, &[]);
    assert!(
        !namespace_exists(&format!("clab-{name}-h1")),
        "h1 not removed"
    );
    assert!(
        marked(&h2),
        "down deleted the replaced (foreign) h2 namespace"
    );
    assert!(
        marked(&stranger),
        "down deleted a pre-existing foreign namespace"
    );
}

#[test]
fn failed_up_removes_what_it_made() {
    require_root();
    let name = lab_name("fail");
    let file = write_hosts_lab("fail", "\n        - ip link set dev nosuchdev up");
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let o = evpnlab(&["--name", &name, "up", f]);
    assert!(!o.status.success(), "up with a failing exec must fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("node h2") && err.contains("ip link set dev nosuchdev up"),
        "error must name node and command: {err}"
    );
    assert_eq!(
        namespaces_with_prefix(&format!("clab-{name}-")),
        Vec::<String>::new()
    );
    assert!(!Path::new("/run/evpnlab").join(&name).exists());
}

fn state(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new("/run/evpnlab").join(name).join("state.json"))
        .expect("state file left by the crashed run");
    serde_json::from_str(&text).expect("state json")
}

#[test]
fn up_after_crash_between_links_and_exec() {
    require_root();
    let name = lab_name("crash1");
    let file = write_hosts_lab("crash1", "");
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let o = evpnlab_env(
        &["--name", &name, "up", f],
        &[("EVPNLAB_CRASH_AFTER", "links")],
    );
    assert_eq!(o.status.code(), Some(86), "{}", text(&o));
    assert_eq!(state(&name)["phase"], "creating");
    assert!(namespace_exists(&format!("clab-{name}-h1")));

    ok(&name, "up", &file, &[]);
    let o = lab_exec(
        &name,
        &file,
        "h1",
        &["ping", "-c", "1", "-W", "2", "192.0.2.2"],
    );
    assert!(o.status.success(), "{}", text(&o));
    // A lab that is fully up is not rebuilt by accident...
    let o = evpnlab(&["--name", &name, "up", f]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already up"), "{err}");
    // ...only on request.
    ok(&name, "up", &file, &["--reconfigure"]);
    ok(&name, "status", &file, &[]);
    down_leaves_nothing(&name, &file);
}

/// The runner dies after starting every FRR daemon but before finishing: the next `up`
/// must stop those daemons (not leave a second zebra per node) and build a working lab.
#[test]
fn up_after_crash_with_daemons_running() {
    require_root();
    let name = lab_name("crash2");
    let file = two_leaf_frr_file();
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let o = evpnlab_env(
        &["--name", &name, "up", f],
        &[("EVPNLAB_CRASH_AFTER", "daemons")],
    );
    assert_eq!(o.status.code(), Some(86), "{}", text(&o));
    let st = state(&name);
    assert_eq!(st["phase"], "creating");
    let old_pids: Vec<i32> = st["daemons"]
        .as_array()
        .expect("daemons")
        .iter()
        .filter_map(|d| std::fs::read_to_string(d["pidfile"].as_str()?).ok())
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    assert_eq!(old_pids.len(), 6, "{st}");
    let alive = evpnlab::sys::pid_running;
    assert!(
        old_pids.iter().all(|&p| alive(p)),
        "crashed run left daemons"
    );

    ok(&name, "up", &file, &[]);
    assert!(
        old_pids.iter().all(|&p| !alive(p)),
        "daemons of the crashed run still alive"
    );
    ok(
        &name,
        "wait",
        &file,
        &["--bgp-established", "--timeout", "30"],
    );
    assert!(
        ping_eventually(&name, &file, "host1", "10.100.0.2", Duration::from_secs(15)),
        "no VXLAN ping after recovering from the crash"
    );
    down_leaves_nothing(&name, &file);
}

#[test]
fn exec_on_a_lab_that_is_not_up_fails_clearly() {
    require_root();
    let name = lab_name("notup");
    let file = write_hosts_lab("notup", "");
    let _guard = LabGuard::new(&name, &file);
    let o = evpnlab(&[
        "--name",
        &name,
        "exec",
        file.to_str().expect("utf-8"),
        "h1",
        "--",
        "true",
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not up"),
        "{}",
        text(&o)
    );
}

/// A real SIGKILL while `up` runs an `exec` command (a slow one, so the kill lands there):
/// the next `up` cleans up the namespaces, links and the orphaned command, then succeeds.
#[test]
fn up_after_runner_killed_mid_exec() {
    require_root();
    let name = lab_name("kill");
    let file = write_hosts_lab("kill", "\n        - sleep 2");
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let mut child = std::process::Command::new(BIN)
        .args(["--name", &name, "up", f])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn evpnlab up");
    // Links are recorded before exec starts; then the runner sits in `sleep 2`.
    let in_exec = poll(Duration::from_secs(5), || {
        let st = std::fs::read_to_string(Path::new("/run/evpnlab").join(&name).join("state.json"))
            .ok()?;
        let v: Value = serde_json::from_str(&st).ok()?;
        (v["links"].as_array().map(Vec::len) == Some(1)).then_some(())
    });
    assert!(in_exec.is_some(), "runner never reached the exec phase");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("SIGKILL the runner");
    let _ = child.wait();
    assert_eq!(state(&name)["phase"], "creating");
    assert!(namespace_exists(&format!("clab-{name}-h2")));

    ok(&name, "up", &file, &[]);
    let o = lab_exec(
        &name,
        &file,
        "h1",
        &["ping", "-c", "1", "-W", "2", "192.0.2.2"],
    );
    assert!(o.status.success(), "{}", text(&o));
    down_leaves_nothing(&name, &file);
}

/// Processes whose command line is exactly `cmdline` (NUL-separated words joined by spaces).
fn processes_running(cmdline: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| {
                            let words: Vec<String> = c
                                .split(|b| *b == 0)
                                .filter(|w| !w.is_empty())
                                .map(|w| String::from_utf8_lossy(w).into_owned())
                                .collect();
                            words.join(" ") == cmdline
                        })
                        .unwrap_or(false)
                        && evpnlab::sys::pid_running(*pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An `exec` command that never ends is killed after `--exec-timeout`, `up` fails naming the
/// node and command, and nothing of the lab is left (neither namespaces nor the command).
#[test]
fn hanging_exec_command_times_out_and_up_cleans_up() {
    require_root();
    let name = lab_name("hang");
    // A sleep length no other test uses, to find the process again.
    let file = write_hosts_lab("hang", "\n        - sleep 3607");
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let start = std::time::Instant::now();
    let o = evpnlab(&["--name", &name, "up", f, "--exec-timeout", "1"]);
    let took = start.elapsed();
    assert!(!o.status.success(), "up with a hanging exec must fail");
    assert!(took < Duration::from_secs(10), "up took {took:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("node h2")
            && err.contains("sleep 3607")
            && err.contains("timed out after 1 s"),
        "{err}"
    );
    assert_eq!(
        namespaces_with_prefix(&format!("clab-{name}-")),
        Vec::<String>::new()
    );
    assert!(!Path::new("/run/evpnlab").join(&name).exists());
    assert_eq!(processes_running("sleep 3607"), Vec::<i32>::new());
}

/// An `exec` command that leaves something running in the background (holding stdout) does
/// not hold `up` up; `down` stops what it left.
#[test]
fn exec_command_with_background_child_does_not_block_up() {
    require_root();
    let name = lab_name("bg");
    let file = write_hosts_lab("bg", "\n        - sleep 3608 &");
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let start = std::time::Instant::now();
    let o = evpnlab(&["--name", &name, "up", f, "--exec-timeout", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "up waited for the background child: {:?}",
        start.elapsed()
    );
    // The shell forks the background child before it execs `sleep`: give it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while processes_running("sleep 3608").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_running("sleep 3608").len(), 1);
    down_leaves_nothing(&name, &file);
    assert_eq!(processes_running("sleep 3608"), Vec::<i32>::new());
}

#[test]
fn exec_timeout_must_be_positive() {
    let file = write_hosts_lab("zero", "");
    let f = file.to_str().expect("utf-8");
    let o = evpnlab(&["--name", "evt-lab-zero", "up", f, "--exec-timeout", "0"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exec-timeout"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(file.parent().expect("dir"));
}
