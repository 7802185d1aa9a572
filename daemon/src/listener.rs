//! The BGP listeners on `global.listen`: accepted connections go to the core, which
//! matches the source to a configured peer or a listen range. TCP MD5 keys are set on the
//! listening sockets per peer address (or per listen-range prefix) so the kernel checks
//! the SYN already.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::sockopt;

pub fn bind(addrs: &[SocketAddr]) -> io::Result<Vec<Arc<TcpListener>>> {
    let mut out = Vec::new();
    for a in addrs {
        let s = if a.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        s.set_reuseaddr(true)?;
        s.bind(*a)
            .map_err(|e| io::Error::new(e.kind(), format!("listen {a}: {e}")))?;
        out.push(Arc::new(s.listen(128)?));
    }
    Ok(out)
}

/// Accepts forever, handing each connection to `to`.
pub async fn accept_loop(l: Arc<TcpListener>, to: mpsc::Sender<(TcpStream, SocketAddr)>) {
    loop {
        match l.accept().await {
            Ok((s, a)) => {
                if to.send((s, a)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Sets (or removes, with `key` None) the MD5 key for `peer` (a prefix when `prefixlen`)
/// on every listener of the same address family.
pub fn set_md5(ls: &[Arc<TcpListener>], peer: IpAddr, prefixlen: Option<u8>, key: Option<&str>) {
    for l in ls {
        let Ok(local) = l.local_addr() else { continue };
        if local.is_ipv4() != peer.is_ipv4() {
            continue;
        }
        if let Err(e) = sockopt::set_md5(l.as_raw_fd(), peer, prefixlen, key) {
            // Removing a key that was never set fails with ENOENT: nothing to undo.
            if key.is_some() {
                warn!(%peer, error = %e, "cannot set the TCP MD5 key on the listener");
            }
        }
    }
}

/// IPv4 peers connecting to an IPv6 wildcard listener appear as ::ffff:a.b.c.d.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}
