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
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::sockopt;

/// The running listeners, each with its accept task; `reconcile` applies a reloaded
/// `global.listen` all or nothing.
pub struct Listeners {
    addrs: Vec<SocketAddr>,
    sockets: Vec<Arc<TcpListener>>,
    tasks: Vec<JoinHandle<()>>,
    to: mpsc::Sender<(TcpStream, SocketAddr)>,
}

impl Listeners {
    /// Binds every address (all or an error) and starts accepting into `to`.
    pub fn start(
        addrs: &[SocketAddr],
        to: mpsc::Sender<(TcpStream, SocketAddr)>,
    ) -> io::Result<Self> {
        let sockets = bind(addrs)?;
        let tasks = sockets
            .iter()
            .map(|l| tokio::spawn(accept_loop(l.clone(), to.clone())))
            .collect();
        Ok(Self {
            addrs: addrs.to_vec(),
            sockets,
            tasks,
            to,
        })
    }

    pub fn sockets(&self) -> &[Arc<TcpListener>] {
        &self.sockets
    }

    /// Moves to `want`: binds the new addresses first, and only when all of them bound
    /// closes the removed ones (their accepted sessions live on, they own their sockets).
    /// On an error nothing changed. Returns (added, removed); the caller sets MD5 keys on
    /// the new sockets.
    pub fn reconcile(&mut self, want: &[SocketAddr]) -> io::Result<(usize, usize)> {
        let new: Vec<SocketAddr> = want
            .iter()
            .filter(|a| !self.addrs.contains(a))
            .copied()
            .collect();
        // Dropped on error: the sockets bound so far close again.
        let bound = bind(&new)?;
        let mut removed = 0;
        let mut i = 0;
        while i < self.addrs.len() {
            if want.contains(&self.addrs[i]) {
                i += 1;
                continue;
            }
            self.tasks.swap_remove(i).abort();
            self.sockets.swap_remove(i);
            let gone = self.addrs.swap_remove(i);
            info!(listen = %gone, "listener closed");
            removed += 1;
        }
        for (a, l) in new.iter().zip(bound) {
            info!(listen = %a, "listening");
            self.tasks
                .push(tokio::spawn(accept_loop(l.clone(), self.to.clone())));
            self.sockets.push(l);
            self.addrs.push(*a);
        }
        Ok((new.len(), removed))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn free() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    async fn accepts(a: SocketAddr) -> bool {
        tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(a))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    #[tokio::test]
    async fn reconcile_is_all_or_nothing() {
        let (tx, _rx) = mpsc::channel(8);
        let (a1, a2) = (free(), free());
        let mut ls = Listeners::start(&[a1], tx).unwrap();
        assert_eq!(ls.reconcile(&[a1, a2]).unwrap(), (1, 0));
        assert!(accepts(a1).await && accepts(a2).await);

        // One address that cannot bind: nothing changes (a1 is not closed).
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = held.local_addr().unwrap();
        assert!(ls.reconcile(&[a2, busy]).is_err());
        assert_eq!(ls.sockets().len(), 2);
        assert!(accepts(a1).await && accepts(a2).await);

        assert_eq!(ls.reconcile(&[a2]).unwrap(), (0, 1));
        assert_eq!(ls.sockets().len(), 1);
        // The aborted accept task drops its handle of the socket on its next poll.
        let mut closed = false;
        for _ in 0..50 {
            if !accepts(a1).await {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(closed, "removed listener still accepts");
        assert!(accepts(a2).await);
    }
}
