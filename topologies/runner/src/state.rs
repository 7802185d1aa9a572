//! What THIS runner created for a lab, kept in `/run/evpnlab/<lab>/state.json`.
//!
//! Every namespace and link is written down *before* it is created, and a namespace's
//! cookie (the kernel's never-reused id of a network namespace) right after, so a runner
//! killed at any point leaves a file that the next `up` or `down` can clean up from — and a
//! namespace not listed here, or listed with another cookie, is never touched.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::topology::{Endpoint, Role};

pub const RUN_ROOT: &str = "/run/evpnlab";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `up` is (or was, if it crashed) still building the lab.
    Creating,
    Up,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NsRecord {
    pub node: String,
    pub name: String,
    pub role: Role,
    /// Namespace cookie; `None` only if the runner died between `ip netns add` and
    /// recording it (the name alone then says it is ours).
    pub cookie: Option<u64>,
}

impl NsRecord {
    /// The nsfs inode of the namespace if it exists and is the one this runner created.
    pub fn owned_inode(&self) -> Option<u64> {
        let inode = crate::sys::netns_inode(&self.name)?;
        match self.cookie {
            None => Some(inode),
            Some(c) => (crate::sys::netns_cookie(&self.name) == Some(c)).then_some(inode),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkRecord {
    pub a: Endpoint,
    pub b: Endpoint,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonRecord {
    pub node: String,
    /// zebra, bgpd or evpnd.
    pub name: String,
    pub program: PathBuf,
    pub pidfile: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub lab: String,
    pub topology: PathBuf,
    pub phase: Phase,
    pub runner_pid: u32,
    pub namespaces: Vec<NsRecord>,
    pub links: Vec<LinkRecord>,
    pub daemons: Vec<DaemonRecord>,
}

impl State {
    pub fn new(lab: &str, topology: &Path) -> State {
        State {
            lab: lab.to_string(),
            topology: topology.to_path_buf(),
            phase: Phase::Creating,
            runner_pid: std::process::id(),
            namespaces: Vec::new(),
            links: Vec::new(),
            daemons: Vec::new(),
        }
    }

    pub fn namespace(&self, node: &str) -> Option<&NsRecord> {
        self.namespaces.iter().find(|n| n.node == node)
    }

    pub fn owns_namespace(&self, name: &str) -> bool {
        self.namespaces.iter().any(|n| n.name == name)
    }
}

/// Paths of one lab's runtime directory.
#[derive(Debug, Clone)]
pub struct LabDir {
    pub root: PathBuf,
}

impl LabDir {
    pub fn new(lab: &str) -> LabDir {
        let root = std::env::var_os("EVPNLAB_RUN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(RUN_ROOT));
        LabDir {
            root: root.join(lab),
        }
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Per-node runtime directory: pid files, sockets, logs.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.root.join("nodes").join(node)
    }

    pub fn load(&self) -> Result<Option<State>> {
        let path = self.state_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Other(format!("{}: corrupt state file: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes the state atomically (temp file + rename), so a crash never leaves half a file.
    pub fn save(&self, state: &State) -> Result<()> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let path = self.state_file();
        let tmp = self.root.join("state.json.tmp");
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| Error::Other(format!("serialising state: {e}")))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// Removes the whole runtime directory (after teardown).
    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.root, e)),
        }
    }

    /// Takes the lab's exclusive lock (released when the guard is dropped or the process
    /// dies), so two runners never build or tear down the same lab at once.
    pub fn lock(&self, lab: &str) -> Result<LabLock> {
        let parent = self.root.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let path = parent.join(format!(".{lab}.lock"));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(Error::Locked(lab.to_string()));
        }
        Ok(LabLock {
            _file: file,
            path,
            state_file: self.state_file(),
        })
    }
}

/// Held lab lock; its file is removed on release when the lab has no state left, so
/// `/run/evpnlab` does not collect lock files of labs that are gone.
pub struct LabLock {
    _file: File,
    path: PathBuf,
    state_file: PathBuf,
}

impl Drop for LabLock {
    fn drop(&mut self) {
        if !self.state_file.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
