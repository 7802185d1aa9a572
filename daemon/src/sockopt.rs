//! Socket options tokio and std do not expose, set with `setsockopt(2)`:
//! TCP MD5 signatures (RFC 2385, `TCP_MD5SIG`/`TCP_MD5SIG_EXT`), GTSM (RFC 5082,
//! `IP_MINTTL`/`IPV6_MINHOPCOUNT`), the TTL / hop limit for eBGP, and
//! `TCP_NOTSENT_LOWAT` (how much unsent data the kernel holds for a peer).

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;

/// Linux `TCP_MD5SIG_MAXKEYLEN`.
pub const MD5_MAX_KEY: usize = 80;
/// Linux `TCP_MD5SIG_FLAG_PREFIX`: the key covers `prefixlen` bits of the address.
const TCP_MD5SIG_FLAG_PREFIX: u8 = 1;

/// `struct tcp_md5sig` from `<linux/tcp.h>` (libc does not define it).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY],
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live, initialised T of the size we pass; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn storage_of(ip: IpAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match ip {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
        }
    }
    ss
}

/// Sets (or with `key` None, removes) the TCP MD5 key for connections with `peer`; with
/// `prefixlen`, for every address in that prefix (listen ranges). On a listening socket
/// the key applies to connections it accepts; on a connecting socket, to its connection.
pub fn set_md5(
    fd: RawFd,
    peer: IpAddr,
    prefixlen: Option<u8>,
    key: Option<&str>,
) -> io::Result<()> {
    let key = key.unwrap_or("").as_bytes();
    if key.len() > MD5_MAX_KEY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "MD5 key longer than 80 octets",
        ));
    }
    let mut sig = TcpMd5Sig {
        addr: storage_of(peer),
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; MD5_MAX_KEY],
    };
    sig.key[..key.len()].copy_from_slice(key);
    let opt = match prefixlen {
        Some(len) => {
            sig.flags = TCP_MD5SIG_FLAG_PREFIX;
            sig.prefixlen = len;
            libc::TCP_MD5SIG_EXT
        }
        None => libc::TCP_MD5SIG,
    };
    setsockopt(fd, libc::IPPROTO_TCP, opt, &sig)
}

/// The kernel reports the socket writable only while less than `bytes` are unsent.
/// Without it Linux grows a peer's send buffer to `tcp_wmem` max (4 MB) of UPDATEs that
/// a slow peer has not read; with it that backlog stays in the Adj-RIB-Out, as state.
pub fn set_notsent_lowat(fd: RawFd, bytes: u32) -> io::Result<()> {
    let v = bytes as libc::c_int;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, &v)
}

/// TTL (IPv4) or unicast hop limit (IPv6) of what the socket sends.
pub fn set_ttl(fd: RawFd, v6: bool, ttl: u8) -> io::Result<()> {
    let v = libc::c_int::from(ttl);
    if v6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &v)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &v)
    }
}

/// GTSM (RFC 5082): drop segments that arrive with a TTL below `min` (255 - hops + 1).
pub fn set_min_ttl(fd: RawFd, v6: bool, min: u8) -> io::Result<()> {
    let v = libc::c_int::from(min);
    if v6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &v)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &v)
    }
}

/// The TTL policy of one peer, applied to its connecting or accepted socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlPolicy {
    /// System default (iBGP).
    Default,
    /// Send with this TTL (eBGP: 1, or the multihop value).
    Ttl(u8),
    /// GTSM: send with 255, accept only TTL >= 256 - hops.
    Gtsm { hops: u8 },
}

impl TtlPolicy {
    pub fn apply(self, fd: RawFd, peer: SocketAddr) -> io::Result<()> {
        let v6 = peer.is_ipv6();
        match self {
            Self::Default => Ok(()),
            Self::Ttl(t) => set_ttl(fd, v6, t),
            Self::Gtsm { hops } => {
                set_ttl(fd, v6, 255)?;
                // hops is 1..254 (validated), so 256 - hops fits 2..255.
                set_min_ttl(fd, v6, (256u16 - u16::from(hops)) as u8)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn options_are_accepted_by_the_kernel() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = l.as_raw_fd();
        let peer: IpAddr = "127.0.0.2".parse().unwrap();
        set_md5(fd, peer, None, Some("secret")).unwrap();
        set_md5(fd, peer, None, None).unwrap();
        set_md5(fd, "127.0.0.0".parse().unwrap(), Some(24), Some("range")).unwrap();
        let sa: SocketAddr = "127.0.0.2:179".parse().unwrap();
        TtlPolicy::Gtsm { hops: 1 }.apply(fd, sa).unwrap();
        TtlPolicy::Ttl(1).apply(fd, sa).unwrap();
        let long = "x".repeat(81);
        assert!(set_md5(fd, peer, None, Some(&long)).is_err());
    }
}
