//! Typed errors of the dataplane. Per-operation failures land in an
//! [`ApplyReport`](crate::dataplane::ApplyReport); none of them is fatal.

use crate::model::Vni;

#[derive(Debug, thiserror::Error)]
pub enum FibError {
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("VNI {0} has no VXLAN device")]
    UnknownVni(Vni),
    #[error("VNI {0} has no bridge (SVI) for neighbours")]
    NoSvi(Vni),
    #[error("entry already exists (EEXIST)")]
    Exists,
    #[error("no such entry (ENOENT)")]
    NotFound,
    #[error("device is gone (ENODEV)")]
    NoDevice,
    #[error("operation not supported by the kernel (EOPNOTSUPP)")]
    NotSupported,
    #[error("kernel error: errno {0}")]
    Kernel(i32),
    #[error("no answer from the kernel for this request (ack lost)")]
    AckLost,
    #[error("undecodable netlink message: {0}")]
    Decode(String),
    #[error("network namespace {path}: {source}")]
    Netns {
        path: String,
        source: std::io::Error,
    },
}

impl FibError {
    /// Maps a (positive) errno from a netlink ack.
    pub fn from_errno(errno: i32) -> FibError {
        match errno {
            libc::EEXIST => FibError::Exists,
            libc::ENOENT => FibError::NotFound,
            libc::ENODEV => FibError::NoDevice,
            libc::EOPNOTSUPP => FibError::NotSupported,
            e => FibError::Kernel(e),
        }
    }
}
