//! One error type for the runner; every variant names what failed and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: YAML syntax error at line {line}, column {col}: {message}")]
    Yaml {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    /// The file parses as YAML but is not a topology evpnlab can build.
    #[error("{path}: {message}")]
    Topology { path: PathBuf, message: String },
    #[error("command `{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// Something exists that this runner did not create, so it will not touch it.
    #[error("refusing: {0}")]
    Refused(String),
    #[error("{0}")]
    Daemon(String),
    #[error("lab `{0}` is not up (no state under /run/evpnlab; run `evpnlab up` first)")]
    NotUp(String),
    #[error("another evpnlab is working on lab `{0}` (lock held)")]
    Locked(String),
    #[error("timed out after {secs} s: {what}")]
    Timeout { secs: u64, what: String },
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
