//! Thin wrappers over iproute2 and /proc: namespaces, links, processes.
//!
//! iproute2 is used rather than netlink sockets because the topology's `exec` commands need
//! it anyway, and its error messages are what a lab user understands.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Runs a command to completion; a non-zero exit becomes [`Error::Command`] with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    run_env(program, args, &Default::default())
}

pub fn run_env(
    program: &str,
    args: &[&str],
    env: &std::collections::BTreeMap<String, String>,
) -> Result<String> {
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Command {
            command: shown.clone(),
            status: "not started".into(),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.is_empty() {
            stderr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        Err(Error::Command {
            command: shown,
            status: out.status.to_string(),
            stderr,
        })
    }
}

/// Runs a command with a time limit, its stdout/stderr going to `out_dir/exec.stdout` and
/// `exec.stderr` (files, not pipes: a command that leaves something running in the
/// background, `tcpdump ... &`, must not keep us waiting for the pipe to close). It runs in a
/// process group of its own; past `timeout` the whole group is killed and
/// [`Error::Timeout`] returned. A non-zero exit becomes [`Error::Command`] with its stderr.
pub fn run_timeout(
    program: &str,
    args: &[&str],
    env: &std::collections::BTreeMap<String, String>,
    timeout: Duration,
    out_dir: &Path,
) -> Result<()> {
    use std::os::unix::process::CommandExt;

    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let (out_path, err_path) = (out_dir.join("exec.stdout"), out_dir.join("exec.stderr"));
    let out = std::fs::File::create(&out_path).map_err(|e| Error::io(&out_path, e))?;
    let err = std::fs::File::create(&err_path).map_err(|e| Error::io(&err_path, e))?;
    let mut child = Command::new(program)
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Command {
            command: shown.clone(),
            status: "not started".into(),
            stderr: e.to_string(),
        })?;
    let pid = i32::try_from(child.id()).unwrap_or(0);
    // std has no wait with a timeout: a thread waits, this one waits for it at most `timeout`.
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => {
            // The group: sh and whatever it started (they share its process group).
            if pid > 0 {
                // SAFETY: kill(2) has no memory effects; a gone group only yields ESRCH.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = waiter.join();
            return Err(Error::Timeout {
                secs: timeout.as_secs(),
                what: format!("`{shown}` (killed; raise it with --exec-timeout)"),
            });
        }
    };
    let _ = waiter.join();
    let status = status.map_err(|e| Error::Command {
        command: shown.clone(),
        status: "wait failed".into(),
        stderr: e.to_string(),
    })?;
    if status.success() {
        return Ok(());
    }
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let mut stderr = read(&err_path);
    if stderr.is_empty() {
        stderr = read(&out_path);
    }
    Err(Error::Command {
        command: shown,
        status: status.to_string(),
        stderr,
    })
}

/// The identity of a named namespace: the inode of its nsfs file, `None` if it does not exist.
pub fn netns_inode(name: &str) -> Option<u64> {
    std::fs::metadata(Path::new("/run/netns").join(name))
        .ok()
        .map(|m| m.ino())
}

/// The network namespace cookie of a named namespace: a 64-bit id the kernel never reuses
/// (unlike nsfs inode numbers), read with `SO_NETNS_COOKIE` on a socket made inside it.
pub fn netns_cookie(name: &str) -> Option<u64> {
    let file = std::fs::File::open(Path::new("/run/netns").join(name)).ok()?;
    // setns(CLONE_NEWNET) moves only the calling thread, so use a throwaway one.
    std::thread::spawn(move || {
        use std::os::unix::io::AsRawFd;
        // SAFETY: plain syscalls on descriptors this thread owns; `cookie` and `len` are
        // valid for the sizes passed.
        unsafe {
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return None;
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0);
            if fd < 0 {
                return None;
            }
            let mut cookie: u64 = 0;
            let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
            let rc = libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NETNS_COOKIE,
                (&mut cookie as *mut u64).cast(),
                &mut len,
            );
            libc::close(fd);
            (rc == 0).then_some(cookie)
        }
    })
    .join()
    .ok()
    .flatten()
}

/// Creates a named namespace and returns its cookie.
pub fn netns_add(name: &str) -> Result<u64> {
    run("ip", &["netns", "add", name])?;
    netns_cookie(name).ok_or_else(|| {
        Error::Other(format!(
            "namespace {name}: cannot read its cookie (SO_NETNS_COOKIE needs Linux >= 5.14)"
        ))
    })
}

pub fn netns_del(name: &str) -> Result<()> {
    run("ip", &["netns", "del", name]).map(|_| ())
}

/// Creates a veth pair whose ends are born inside their namespaces, so nothing is ever left in
/// the root namespace.
pub fn veth_add(ns_a: &str, if_a: &str, ns_b: &str, if_b: &str) -> Result<()> {
    run(
        "ip",
        &[
            "link", "add", "name", if_a, "netns", ns_a, "mtu", "9500", "type", "veth", "peer",
            "name", if_b, "netns", ns_b, "mtu", "9500",
        ],
    )?;
    run("ip", &["-n", ns_a, "link", "set", if_a, "up"])?;
    run("ip", &["-n", ns_b, "link", "set", if_b, "up"])?;
    Ok(())
}

/// `ip -j link show` of one interface in a namespace, `None` if it is not there.
pub fn link_show(ns: &str, iface: &str) -> Option<serde_json::Value> {
    let out = run("ip", &["-n", ns, "-j", "link", "show", "dev", iface]).ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    v.as_array().and_then(|a| a.first().cloned())
}

/// True if `pid` is a live process (zombies count as dead).
pub fn pid_running(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the `)` that closes the command name.
        Ok(stat) => match stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3)) {
            Some(s) => s != "Z" && s != "X",
            None => false,
        },
        Err(_) => false,
    }
}

/// The inode of the network namespace `pid` lives in.
pub fn pid_netns_inode(pid: i32) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

/// Processes whose network namespace is `inode`.
pub fn pids_in_netns(inode: u64) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && pid_netns_inode(pid) == Some(inode) && pid_running(pid))
        .collect()
}

pub fn signal(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) has no memory effects; a stale pid only yields ESRCH.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// SIGTERM, then SIGKILL to whatever is still running after `grace`.
pub fn terminate(pids: &[i32], grace: Duration) {
    for &p in pids {
        signal(p, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < grace && pids.iter().any(|&p| pid_running(p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &p in pids {
        if pid_running(p) {
            signal(p, libc::SIGKILL);
        }
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) && pids.iter().any(|&p| pid_running(p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Quotes a word for `sh -c`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Finds a program on PATH.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(shell_quote("eth1"), "eth1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn missing_namespace_has_no_cookie() {
        assert_eq!(netns_cookie("evt-lab-does-not-exist"), None);
    }

    #[test]
    fn own_process_is_running() {
        assert!(pid_running(std::process::id() as i32));
        assert!(!pid_running(0));
        assert!(pid_netns_inode(std::process::id() as i32).is_some());
    }
}
