//! The monitor thread: one NETLINK_ROUTE socket subscribed to link, neighbour and address
//! groups, a large receive buffer (the kernel drops notifications when it overflows and
//! tells us with ENOBUFS, which becomes [`Event::Resync`]), and a bounded channel to the
//! consumer (a slow consumer backs up into the socket buffer, never into our memory).
//!
//! The socket subscribes inside `spawn`, before it returns, so a dump taken afterwards
//! cannot miss a change.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::Socket;
use tokio::sync::mpsc::{self, Sender};

use super::decode::{self, FdbRow, NeighRow};
use super::dump_topology;
use super::socket::{for_each_message_except, in_netns, open_route_socket, RequestSocket};
use crate::dataplane::{Event, EventReceiver, OwnedEntry};
use crate::error::FibError;
use crate::model::Topology;

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_NEIGH: u32 = 3;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// Receive buffer of the monitor socket: a burst of notifications (our own 1M-entry
/// programming makes 2M) must not overflow at once.
const MONITOR_RCVBUF: i32 = 32 << 20;
const EVENT_QUEUE: usize = 65536;

fn open_monitor() -> io::Result<Socket> {
    let sock = open_route_socket(MONITOR_RCVBUF)?;
    for g in [
        RTNLGRP_LINK,
        RTNLGRP_NEIGH,
        RTNLGRP_IPV4_IFADDR,
        RTNLGRP_IPV6_IFADDR,
    ] {
        sock.add_membership(g)?;
    }
    // Wake up now and then to notice a dropped receiver and end the thread.
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 300_000,
    };
    // SAFETY: setsockopt with a pointer to a live timeval and its size.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sock)
}

/// Subscribes and starts the monitor thread.
pub fn spawn(netns: Option<PathBuf>) -> Result<EventReceiver, FibError> {
    let sock = in_netns(netns.as_deref(), open_monitor)?;
    let mut req = RequestSocket::open(netns.as_deref())?;
    let topology = dump_topology(&mut req)?;
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    std::thread::Builder::new()
        .name("fib-monitor".into())
        .spawn(move || {
            Monitor {
                sock,
                req,
                topology,
                tx,
            }
            .run()
        })
        .map_err(FibError::Io)?;
    Ok(rx)
}

struct Monitor {
    sock: Socket,
    req: RequestSocket,
    topology: Topology,
    tx: Sender<Event>,
}

impl Monitor {
    fn run(mut self) {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match self.sock.recv(&mut &mut buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!("netlink monitor overflowed (ENOBUFS): resync");
                    if self.tx.blocking_send(Event::Resync).is_err() {
                        return;
                    }
                    if !self.refresh_topology() {
                        return;
                    }
                    continue;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.tx.is_closed() {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!("netlink monitor socket failed: {e}");
                    let _ = self.tx.blocking_send(Event::Resync);
                    std::thread::sleep(Duration::from_millis(100));
                    if self.tx.is_closed() {
                        return;
                    }
                    continue;
                }
            };
            let mut events = Vec::new();
            let mut links_changed = false;
            let topo = &self.topology;
            let walked =
                for_each_message_except(buf.get(..n).unwrap_or(&[]), is_ext_learned_add, |m| {
                    let NetlinkPayload::InnerMessage(inner) = m.payload else {
                        return;
                    };
                    match inner {
                        RouteNetlinkMessage::NewLink(_)
                        | RouteNetlinkMessage::DelLink(_)
                        | RouteNetlinkMessage::NewAddress(_)
                        | RouteNetlinkMessage::DelAddress(_) => links_changed = true,
                        RouteNetlinkMessage::NewNeighbour(n) => {
                            neigh_event(topo, &n, true, &mut events)
                        }
                        RouteNetlinkMessage::DelNeighbour(n) => {
                            neigh_event(topo, &n, false, &mut events)
                        }
                        _ => {}
                    }
                });
            if let Err(e) = walked {
                tracing::warn!("netlink monitor: {e}; resync");
                events.push(Event::Resync);
            }
            for ev in events {
                if self.tx.blocking_send(ev).is_err() {
                    return;
                }
            }
            if links_changed && !self.refresh_topology() {
                return;
            }
        }
    }

    /// Re-reads the topology; emits it when it changed. False when the consumer is gone.
    fn refresh_topology(&mut self) -> bool {
        match dump_topology(&mut self.req) {
            Ok(t) if t != self.topology => {
                self.topology = t.clone();
                self.tx.blocking_send(Event::Topology(t)).is_ok()
            }
            Ok(_) => true,
            Err(e) => {
                tracing::warn!("topology dump failed: {e}");
                self.tx.blocking_send(Event::Resync).is_ok()
            }
        }
    }
}

const RTM_NEWNEIGH: u16 = 28;
const NTF_EXT_LEARNED: u8 = 0x10;

/// RTM_NEWNEIGH with NTF_EXT_LEARNED: an entry added by a control plane (mostly our own
/// apply, up to 2M notifications for 1M MACs). None of them makes an event, so they are
/// skipped unparsed to keep the monitor ahead of the kernel. (An ext-learned row on a
/// host port, put there by another agent, is thus not reported as local.)
fn is_ext_learned_add(raw: &[u8]) -> bool {
    let ty = raw.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    // nlmsghdr (16 bytes), then ndmsg: family, pad[3], ifindex, state(2), flags(1).
    let flags = raw.get(16 + 10).copied();
    ty == Some(RTM_NEWNEIGH) && flags.is_some_and(|f| f & NTF_EXT_LEARNED != 0)
}

/// Events for one neighbour notification. Our own adds (ext-learned rows) produce none:
/// a million of them must not become a million events.
fn neigh_event(
    t: &Topology,
    n: &netlink_packet_route::neighbour::NeighbourMessage,
    added: bool,
    out: &mut Vec<Event>,
) {
    match decode::fdb_row(t, n) {
        FdbRow::Local { key, local } if added => out.push(Event::LocalMacAdded {
            vni: key.vni,
            mac: key.mac,
            port: local.port,
            sticky: local.sticky,
        }),
        FdbRow::Local { key, .. } => out.push(Event::LocalMacRemoved {
            vni: key.vni,
            mac: key.mac,
        }),
        // The bridge learned the MAC from VXLAN traffic: it left the local ports.
        FdbRow::BridgeOnVxlan { key, ext: false } if added => out.push(Event::LocalMacRemoved {
            vni: key.vni,
            mac: key.mac,
        }),
        FdbRow::Remote {
            key, owned: true, ..
        } if !added => out.push(Event::OwnedRemoved(OwnedEntry::Fdb(key))),
        FdbRow::Flood {
            vni,
            vtep,
            owned: true,
        } if !added => out.push(Event::OwnedRemoved(OwnedEntry::Flood { vni, vtep })),
        _ => match decode::neigh_row(t, n) {
            NeighRow::Foreign { key, mac } if added => out.push(Event::LocalNeighAdded {
                vni: key.vni,
                ip: key.ip,
                mac,
            }),
            NeighRow::Foreign { key, .. } | NeighRow::Unresolved { key } => {
                out.push(Event::LocalNeighRemoved {
                    vni: key.vni,
                    ip: key.ip,
                })
            }
            NeighRow::Owned { key, .. } if !added => {
                out.push(Event::OwnedRemoved(OwnedEntry::Neigh(key)))
            }
            _ => {}
        },
    }
}
