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
use crate::model::{FdbKey, LocalMac, Mac, NeighKey, Topology};
use std::collections::HashMap;

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_NEIGH: u32 = 3;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// VNI filter changes (`bridge vni add/del`): RTM_NEWTUNNEL / RTM_DELTUNNEL.
const RTNLGRP_TUNNEL: u32 = 35;
const RTM_NEWTUNNEL: u16 = 120;
const RTM_DELTUNNEL: u16 = 121;
/// Receive buffer of the monitor socket: a burst of notifications (our own 1M-entry
/// programming makes 2M) must not overflow at once.
const MONITOR_RCVBUF: i32 = 32 << 20;
const EVENT_QUEUE: usize = 65536;

/// Sizes of the monitor's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorConfig {
    /// SO_RCVBUF(FORCE) of the subscribed socket, bytes.
    pub rcvbuf: i32,
    /// Events queued towards the consumer before the monitor stops reading.
    pub queue: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            rcvbuf: MONITOR_RCVBUF,
            queue: EVENT_QUEUE,
        }
    }
}

fn open_monitor(rcvbuf: i32) -> io::Result<Socket> {
    let sock = open_route_socket(rcvbuf)?;
    for g in [
        RTNLGRP_LINK,
        RTNLGRP_NEIGH,
        RTNLGRP_IPV4_IFADDR,
        RTNLGRP_IPV6_IFADDR,
    ] {
        sock.add_membership(g)?;
    }
    // Older kernels have no tunnel group: then VNI filter changes arrive with the next
    // link event instead.
    if let Err(e) = sock.add_membership(RTNLGRP_TUNNEL) {
        tracing::debug!("no RTNLGRP_TUNNEL: {e}");
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
    attach_ext_learned_filter(&sock)?;
    Ok(sock)
}

/// A classic BPF filter that drops RTM_NEWNEIGH notifications with NTF_EXT_LEARNED in the
/// kernel, before they are queued to us: programming 1M MACs makes 2M of them, and none
/// makes an event (see [`is_ext_learned_add`], which does the same check in user space).
fn attach_ext_learned_filter(sock: &Socket) -> io::Result<()> {
    const LD_H_ABS: u16 = 0x28;
    const LD_B_ABS: u16 = 0x30;
    const JEQ_K: u16 = 0x15;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    // BPF loads are big-endian; nlmsg_type is in host order.
    let newneigh = u32::from(u16::from_be_bytes(RTM_NEWNEIGH.to_ne_bytes()));
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut prog = [
        ins(LD_H_ABS, 0, 0, 4),                        // A = nlmsg_type
        ins(JEQ_K, 0, 3, newneigh),                    // not NEWNEIGH -> accept
        ins(LD_B_ABS, 0, 0, 16 + 10),                  // A = ndm_flags
        ins(JSET_K, 0, 1, u32::from(NTF_EXT_LEARNED)), // ext-learned -> drop
        ins(RET_K, 0, 0, 0),                           // drop
        ins(RET_K, 0, 0, u32::MAX),                    // accept
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: the kernel copies the program during the call; fprog points at live memory.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(sock),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Subscribes and starts the monitor thread.
pub fn spawn(netns: Option<PathBuf>, cfg: MonitorConfig) -> Result<EventReceiver, FibError> {
    let sock = in_netns(netns.as_deref(), move || open_monitor(cfg.rcvbuf))?;
    let mut req = RequestSocket::open(netns.as_deref())?;
    let topology = dump_topology(&mut req)?;
    let (tx, rx) = mpsc::channel(cfg.queue.max(1));
    std::thread::Builder::new()
        .name("fib-monitor".into())
        .spawn(move || {
            Monitor {
                sock,
                req,
                topology,
                tx,
                dedup: Dedup::default(),
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
    dedup: Dedup,
}

/// Suppresses repeats: the kernel notifies every neighbour state change (REACHABLE ->
/// STALE -> DELAY -> ...) and every bridge refresh of a row; the consumer only needs to
/// hear when a local MAC or MAC/IP appears, changes or goes.
#[derive(Default)]
struct Dedup {
    macs: HashMap<FdbKey, LocalMac>,
    neigh: HashMap<NeighKey, Mac>,
}

impl Dedup {
    fn pass(&mut self, ev: &Event) -> bool {
        match ev {
            Event::LocalMacAdded {
                vni,
                mac,
                port,
                sticky,
            } => {
                let l = LocalMac {
                    port: *port,
                    sticky: *sticky,
                };
                self.macs.insert(
                    FdbKey {
                        vni: *vni,
                        mac: *mac,
                    },
                    l,
                ) != Some(l)
            }
            // Removals always pass: the MAC may predate the subscription.
            Event::LocalMacRemoved { vni, mac } => {
                self.macs.remove(&FdbKey {
                    vni: *vni,
                    mac: *mac,
                });
                true
            }
            Event::LocalNeighAdded { vni, ip, mac } => {
                self.neigh.insert(NeighKey { vni: *vni, ip: *ip }, *mac) != Some(*mac)
            }
            Event::LocalNeighRemoved { vni, ip } => {
                self.neigh.remove(&NeighKey { vni: *vni, ip: *ip });
                true
            }
            Event::Resync => {
                // Events were lost: forget, so that everything is reported afresh.
                self.macs.clear();
                self.neigh.clear();
                true
            }
            Event::Topology(_) | Event::OwnedRemoved(_) => true,
        }
    }
}

impl Monitor {
    fn run(mut self) {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match self.sock.recv(&mut &mut buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::warn!("netlink monitor overflowed (ENOBUFS): resync");
                    self.dedup.pass(&Event::Resync);
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
            let mut vni_filter_changed = false;
            let topo = &self.topology;
            // Tunnel messages are not modelled by the parser: noticed raw, then skipped.
            let skip = |raw: &[u8]| {
                if matches!(msg_type(raw), Some(RTM_NEWTUNNEL | RTM_DELTUNNEL)) {
                    vni_filter_changed = true;
                    return true;
                }
                is_ext_learned_add(raw)
            };
            let walked = for_each_message_except(buf.get(..n).unwrap_or(&[]), skip, |m| {
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
            links_changed |= vni_filter_changed;
            if let Err(e) = walked {
                tracing::warn!("netlink monitor: {e}; resync");
                events.push(Event::Resync);
            }
            for ev in events {
                if !self.dedup.pass(&ev) {
                    continue;
                }
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
fn msg_type(raw: &[u8]) -> Option<u16> {
    raw.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

fn is_ext_learned_add(raw: &[u8]) -> bool {
    let ty = msg_type(raw);
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
        FdbRow::BridgeOnVxlan { key, learned: true } if added => out.push(Event::LocalMacRemoved {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Vni;
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage};
    use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourMessage};
    use netlink_packet_route::AddressFamily;

    fn raw(new: bool, flags: NeighbourFlags) -> Vec<u8> {
        let mut n = NeighbourMessage::default();
        n.header.family = AddressFamily::Bridge;
        n.header.ifindex = 7;
        n.header.flags = flags;
        let inner = if new {
            RouteNetlinkMessage::NewNeighbour(n)
        } else {
            RouteNetlinkMessage::DelNeighbour(n)
        };
        let mut m = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(inner),
        );
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    #[test]
    fn repeats_are_suppressed_until_a_change_or_resync() {
        let mut d = Dedup::default();
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let ip = "192.168.100.10".parse().unwrap();
        let add = |port| Event::LocalMacAdded {
            vni: Vni(100),
            mac,
            port,
            sticky: false,
        };
        let nadd = |m| Event::LocalNeighAdded {
            vni: Vni(100),
            ip,
            mac: m,
        };
        assert!(d.pass(&add(3)));
        assert!(!d.pass(&add(3)));
        assert!(d.pass(&add(4)), "moved to another port");
        assert!(d.pass(&nadd(mac)));
        assert!(!d.pass(&nadd(mac)), "STALE -> REACHABLE is no news");
        assert!(d.pass(&nadd(Mac([2, 0, 0, 0, 0, 2]))));
        assert!(d.pass(&Event::LocalMacRemoved { vni: Vni(100), mac }));
        assert!(
            d.pass(&Event::LocalMacRemoved { vni: Vni(100), mac }),
            "removals always pass"
        );
        assert!(d.pass(&add(4)));
        assert!(d.pass(&Event::Resync));
        assert!(d.pass(&add(4)), "after a resync everything is news");
    }

    #[test]
    fn fast_path_skips_only_ext_learned_adds() {
        let ext = NeighbourFlags::Own | NeighbourFlags::ExtLearned;
        assert!(is_ext_learned_add(&raw(true, ext)));
        assert!(!is_ext_learned_add(&raw(true, NeighbourFlags::Controller)));
        assert!(
            !is_ext_learned_add(&raw(false, ext)),
            "deletes of ours must be seen"
        );
        assert!(
            !is_ext_learned_add(&[0u8; 10]),
            "short input is not skipped, not a panic"
        );
    }
}
