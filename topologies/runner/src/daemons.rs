//! Starting, checking and stopping the daemons of FRR and evpnd nodes.
//!
//! Each daemon runs in the foreground under `ip netns exec NS sh -c 'echo $$ >PIDFILE; exec
//! PROGRAM ...'`: the shell writes its own PID and then becomes the daemon, so the pid file
//! holds the daemon's PID (a plain `ip netns exec ... &` would give the wrong one). A daemon
//! counts as ours only if that PID is alive, runs the recorded program, and lives in the
//! recorded namespace — a stale pid file after a crash and PID reuse can never make us kill a
//! stranger.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::DaemonRecord;
use crate::sys;

/// Where the FRR daemons are (Debian's package); `EVPNLAB_FRR_DIR` overrides it.
pub fn frr_dir() -> PathBuf {
    std::env::var_os("EVPNLAB_FRR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/frr"))
}

/// The evpnd binary: `$EVPND_BIN`, else `evpnd` on PATH.
pub fn evpnd_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("EVPND_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::Daemon(format!(
                "EVPND_BIN={} is not a file; build evpnd (`cargo build -p evpnd`) and point \
                 EVPND_BIN at target/debug/evpnd",
                p.display()
            )))
        };
    }
    sys::which("evpnd").ok_or_else(|| {
        Error::Daemon(
            "this topology has evpnd nodes but no evpnd binary was found: set EVPND_BIN \
             (e.g. EVPND_BIN=target/debug/evpnd) or put evpnd on PATH"
                .into(),
        )
    })
}

/// Checks that the FRR programs exist before anything is created.
pub fn check_frr() -> Result<()> {
    for d in ["zebra", "bgpd"] {
        let p = frr_dir().join(d);
        if !p.is_file() {
            return Err(Error::Daemon(format!(
                "{} not found: install FRR (`apt-get install frr`) or set EVPNLAB_FRR_DIR",
                p.display()
            )));
        }
    }
    if sys::which("vtysh").is_none() {
        return Err(Error::Daemon(
            "vtysh not found on PATH (package frr)".into(),
        ));
    }
    Ok(())
}

/// Arguments shared by zebra and bgpd: one instance per namespace, everything under `dir`.
fn frr_args(daemon: &str, config: &Path, dir: &Path) -> Vec<String> {
    let d = dir.display();
    vec![
        "-u".into(),
        "root".into(),
        // The Debian build needs the frrvty group; `-g root` makes every daemon exit.
        "-g".into(),
        "frrvty".into(),
        "-P".into(),
        "0".into(),
        "-f".into(),
        config.display().to_string(),
        "-i".into(),
        format!("{d}/{daemon}.pid"),
        "-z".into(),
        format!("{d}/zserv.api"),
        "--vty_socket".into(),
        d.to_string(),
        "--log".into(),
        format!("file:{d}/{daemon}.log"),
    ]
}

/// Starts zebra, then bgpd, waiting for each one's sockets.
pub fn start_frr(
    node: &str,
    ns: &str,
    config: &Path,
    dir: &Path,
    env: &BTreeMap<String, String>,
    record: &mut dyn FnMut(DaemonRecord) -> Result<()>,
) -> Result<()> {
    for (daemon, ready) in [
        ("zebra", vec!["zserv.api", "zebra.vty"]),
        ("bgpd", vec!["bgpd.vty"]),
    ] {
        let program = frr_dir().join(daemon);
        let rec = DaemonRecord {
            node: node.to_string(),
            name: daemon.to_string(),
            program: program.clone(),
            pidfile: dir.join(format!("{daemon}.pid")),
        };
        record(rec.clone())?;
        let args = frr_args(daemon, config, dir);
        spawn(ns, &rec, &args, dir, env)?;
        let files: Vec<PathBuf> = ready.iter().map(|f| dir.join(f)).collect();
        wait_ready(ns, &rec, dir, Duration::from_secs(15), |_| {
            files.iter().all(|f| f.exists())
        })?;
    }
    Ok(())
}

/// evpnctl for an evpnd at `evpnd`: the one next to it (a build's target dir, a package's
/// bin dir), else `evpnctl` on PATH.
pub fn evpnctl_bin(evpnd: &Path) -> Option<PathBuf> {
    let next = evpnd.with_file_name("evpnctl");
    if next.is_file() {
        return Some(next);
    }
    sys::which("evpnctl")
}

/// The control socket of a node's evpnd: the node's env may name one, else evpnlab gives
/// each evpnd its own under the node dir (see `start_evpnd`).
pub fn evpnd_socket(dir: &Path, env: &BTreeMap<String, String>) -> PathBuf {
    env.get("EVPND_CONTROL__SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("evpnd.sock"))
}

/// Starts `PROGRAM --config CONFIG` (evpnd); ready once it has stayed alive for a moment.
pub fn start_evpnd(
    node: &str,
    ns: &str,
    config: &Path,
    dir: &Path,
    env: &BTreeMap<String, String>,
    program: &Path,
    record: &mut dyn FnMut(DaemonRecord) -> Result<()>,
) -> Result<()> {
    let program = program.canonicalize().unwrap_or(program.to_path_buf());
    let rec = DaemonRecord {
        node: node.to_string(),
        name: "evpnd".into(),
        program,
        pidfile: dir.join("evpnd.pid"),
    };
    record(rec.clone())?;
    let args = vec!["--config".to_string(), config.display().to_string()];
    // No mount namespace: every evpnd of every lab would open the socket path its config
    // names. Each gets its own under the node dir (the node's env may still set it).
    let mut env = env.clone();
    env.insert(
        "EVPND_CONTROL__SOCKET".into(),
        evpnd_socket(dir, &env).display().to_string(),
    );
    spawn(ns, &rec, &args, dir, &env)?;
    let since = Instant::now();
    wait_ready(ns, &rec, dir, Duration::from_secs(5), |_| {
        since.elapsed() >= Duration::from_millis(500)
    })
}

fn spawn(
    ns: &str,
    rec: &DaemonRecord,
    args: &[String],
    dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<()> {
    let mut script = format!(
        "echo $$ > {}; exec {}",
        sys::shell_quote(&rec.pidfile.display().to_string()),
        sys::shell_quote(&rec.program.display().to_string())
    );
    for a in args {
        script.push(' ');
        script.push_str(&sys::shell_quote(a));
    }
    // A pid file left by an earlier run (`evpnlab start` after a stop or crash) would make
    // `wait_ready` see the dead pid before the new shell writes its own.
    match std::fs::remove_file(&rec.pidfile) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(&rec.pidfile, e));
        }
        _ => {}
    }
    let out_path = dir.join(format!("{}.out", rec.name));
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)
        .map_err(|e| Error::io(&out_path, e))?;
    let err = out.try_clone().map_err(|e| Error::io(&out_path, e))?;
    Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", &script])
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Own process group: a Ctrl-C on the runner's terminal must not kill the lab.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Daemon(format!("starting {} in {ns}: {e}", rec.name)))?;
    Ok(())
}

fn wait_ready(
    ns: &str,
    rec: &DaemonRecord,
    dir: &Path,
    timeout: Duration,
    mut ready: impl FnMut(i32) -> bool,
) -> Result<()> {
    let start = Instant::now();
    let ns_inode = sys::netns_inode(ns);
    loop {
        let pid = read_pid(&rec.pidfile);
        if let Some(pid) = pid {
            if !sys::pid_running(pid) {
                return Err(Error::Daemon(format!(
                    "{} of node {} exited during start-up; {}",
                    rec.name,
                    rec.node,
                    log_tail(dir, &rec.name)
                )));
            }
            // The pid file is written by the shell before exec; wait for the exec.
            if is_ours_in(rec, pid, ns_inode) && ready(pid) {
                return Ok(());
            }
        }
        if start.elapsed() > timeout {
            return Err(Error::Daemon(format!(
                "{} of node {} not ready after {} s; {}",
                rec.name,
                rec.node,
                timeout.as_secs(),
                log_tail(dir, &rec.name)
            )));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn log_tail(dir: &Path, daemon: &str) -> String {
    let mut lines = Vec::new();
    for f in [format!("{daemon}.out"), format!("{daemon}.log")] {
        if let Ok(t) = std::fs::read_to_string(dir.join(&f)) {
            lines.extend(t.lines().rev().take(5).map(str::to_string));
        }
    }
    if lines.is_empty() {
        format!("no output in {}", dir.display())
    } else {
        lines.reverse();
        format!("last output:\n  {}", lines.join("\n  "))
    }
}

pub fn read_pid(pidfile: &Path) -> Option<i32> {
    std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

/// True if `pid` runs `rec.program` inside the namespace with inode `ns_inode`.
fn is_ours_in(rec: &DaemonRecord, pid: i32, ns_inode: Option<u64>) -> bool {
    ns_inode.is_some() && sys::pid_netns_inode(pid) == ns_inode && runs_program(pid, &rec.program)
}

/// The process's executable is `program`, or (for a script) `program` is its interpreter's
/// first argument.
fn runs_program(pid: i32, program: &Path) -> bool {
    let program = program.canonicalize().unwrap_or(program.to_path_buf());
    if std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .as_deref()
        == Some(program.as_path())
    {
        return true;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline
        .split(|&b| b == 0)
        .take(2)
        .filter_map(|a| std::str::from_utf8(a).ok())
        .any(|a| Path::new(a).canonicalize().ok().as_deref() == Some(program.as_path()))
}

#[derive(Debug, Clone, Serialize)]
pub struct DaemonStatus {
    pub name: String,
    pub pid: Option<i32>,
    pub running: bool,
}

/// The daemon's PID if it is running and provably ours.
pub fn running_pid(rec: &DaemonRecord, ns_inode: Option<u64>) -> Option<i32> {
    let pid = read_pid(&rec.pidfile)?;
    (sys::pid_running(pid) && is_ours_in(rec, pid, ns_inode)).then_some(pid)
}

pub fn status(rec: &DaemonRecord, ns_inode: Option<u64>) -> DaemonStatus {
    let pid = running_pid(rec, ns_inode);
    DaemonStatus {
        name: rec.name.clone(),
        pid: pid.or_else(|| read_pid(&rec.pidfile)),
        running: pid.is_some(),
    }
}
