//! A blocking NETLINK_ROUTE socket that sends many requests per `send()` and matches the
//! kernel's answers by sequence number.
//!
//! rtnetlink handles every message of a send() synchronously inside that system call and
//! queues the answers on our receive queue, so the floor is one send() per buffer of
//! requests plus one recv() to collect the answers. Requests carry no NLM_F_ACK (the
//! kernel answers only failures) except the last one of each batch, whose ack marks the
//! batch done: N requests cost two system calls and at most (errors + 1) answers.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use crate::error::FibError;

/// Bytes of requests per send(): well under the default SO_SNDBUF (212992) so send()
/// never fails with EMSGSIZE; ~1000 FDB messages.
pub const BATCH_BYTES: usize = 64 * 1024;
const RECV_BUF: usize = 1 << 20;

/// Runs `f` on a fresh thread that entered the network namespace at `netns` (a
/// `/run/netns/NAME` path), so the sockets `f` creates live in that namespace. Our own
/// thread's namespace is never changed.
pub fn in_netns<T: Send + 'static>(
    netns: Option<&Path>,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, FibError> {
    let Some(path) = netns else {
        return f().map_err(FibError::Io);
    };
    let path_buf = path.to_path_buf();
    let name = path.display().to_string();
    let handle = std::thread::spawn(move || -> io::Result<T> {
        let file = std::fs::File::open(&path_buf)?;
        // SAFETY: setns on a valid fd we own; affects only this (short-lived) thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        f()
    });
    match handle.join() {
        Ok(r) => r.map_err(|source| FibError::Netns { path: name, source }),
        Err(_) => Err(FibError::Netns {
            path: name,
            source: io::Error::other("namespace thread panicked"),
        }),
    }
}

fn setsockopt_int(sock: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: plain setsockopt with a pointer to a live i32 and its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the receive buffer, beyond rmem_max when we may (root: SO_RCVBUFFORCE).
pub fn set_rcvbuf(sock: &Socket, bytes: i32) -> io::Result<()> {
    setsockopt_int(sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
        .or_else(|_| setsockopt_int(sock, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes))
}

/// Opens a NETLINK_ROUTE socket with an auto-assigned port id.
pub fn open_route_socket(rcvbuf: i32) -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind_auto()?;
    // Errors echo only the request header, not the whole request.
    sock.set_cap_ack(true)?;
    set_rcvbuf(&sock, rcvbuf)?;
    setsockopt_int(&sock, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 1 << 20)
        .or_else(|_| setsockopt_int(&sock, libc::SOL_SOCKET, libc::SO_SNDBUF, 1 << 20))?;
    Ok(sock)
}

/// Walks the netlink messages in one datagram.
pub fn for_each_message(
    buf: &[u8],
    f: impl FnMut(NetlinkMessage<RouteNetlinkMessage>),
) -> Result<(), FibError> {
    for_each_message_except(buf, |_| false, f)
}

/// Like [`for_each_message`], but messages for which `skip(raw bytes)` holds are passed
/// over without being parsed (the monitor's fast path).
pub fn for_each_message_except(
    buf: &[u8],
    mut skip: impl FnMut(&[u8]) -> bool,
    mut f: impl FnMut(NetlinkMessage<RouteNetlinkMessage>),
) -> Result<(), FibError> {
    let mut off = 0;
    while off + 16 <= buf.len() {
        let Some(rest) = buf.get(off..) else { break };
        let len = rest
            .get(0..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_ne_bytes)
            .unwrap_or(0) as usize;
        if len < 16 || len > rest.len() {
            return Err(FibError::Decode(format!("bad nlmsg_len {len} at {off}")));
        }
        let Some(one) = rest.get(..len) else { break };
        if skip(one) {
            off += (len + 3) & !3;
            continue;
        }
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(one) {
            Ok(m) => f(m),
            // A message this library cannot parse (new kernel attribute layout) is
            // skipped, not fatal; its neighbours still parse.
            Err(e) => tracing::debug!("skipping undecodable netlink message: {e}"),
        }
        off += (len + 3) & !3;
    }
    Ok(())
}

/// Outcome of one request of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// Positive errno.
    Err(i32),
    /// No answer arrived (the receive queue overflowed).
    Lost,
}

/// Request socket: dumps and batched changes.
pub struct RequestSocket {
    sock: Socket,
    seq: u32,
    rx: Vec<u8>,
    /// Encoded requests waiting for `flush`, and where each starts in `tx`.
    tx: Vec<u8>,
    starts: Vec<usize>,
    pub sends: u64,
    pub messages: u64,
}

impl RequestSocket {
    pub fn open(netns: Option<&Path>) -> Result<Self, FibError> {
        let sock = in_netns(netns, || open_route_socket(8 << 20))?;
        Ok(RequestSocket {
            sock,
            seq: 1,
            rx: vec![0; RECV_BUF],
            tx: Vec::with_capacity(BATCH_BYTES + 4096),
            starts: Vec::new(),
            sends: 0,
            messages: 0,
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends a dump request and hands every answer message to `f`.
    pub fn dump(
        &mut self,
        req: RouteNetlinkMessage,
        mut f: impl FnMut(RouteNetlinkMessage),
    ) -> Result<(), FibError> {
        let seq = self.next_seq();
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | NLM_F_DUMP;
        hdr.sequence_number = seq;
        let mut msg = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(req));
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        self.sends += 1;
        loop {
            let n = self.recv()?;
            let mut done = false;
            let mut err = None;
            let rx = std::mem::take(&mut self.rx);
            let walked = for_each_message(rx.get(..n).unwrap_or(&[]), |m| {
                if m.header.sequence_number != seq {
                    return;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => done = true,
                    NetlinkPayload::Error(e) => {
                        done = true;
                        if e.code.is_some() {
                            err = Some(-e.raw_code());
                        }
                    }
                    NetlinkPayload::InnerMessage(inner) => f(inner),
                    _ => {}
                }
            });
            self.rx = rx;
            walked?;
            if let Some(e) = err {
                return Err(FibError::from_errno(e));
            }
            if done {
                return Ok(());
            }
        }
    }

    /// A dump for a message type netlink-packet-route does not model (RTM_GETTUNNEL):
    /// `payload` is the request body; `f` gets (nlmsg_type, body) of every answer.
    pub fn dump_raw(
        &mut self,
        msg_type: u16,
        payload: &[u8],
        mut f: impl FnMut(u16, &[u8]),
    ) -> Result<(), FibError> {
        const NLMSG_ERROR: u16 = 2;
        const NLMSG_DONE: u16 = 3;
        let seq = self.next_seq();
        let len = 16 + payload.len();
        let mut buf = Vec::with_capacity(len);
        buf.extend_from_slice(&(len as u32).to_ne_bytes());
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(payload);
        self.sock.send(&buf, 0)?;
        self.sends += 1;
        let u32_at = |b: &[u8], at: usize| {
            b.get(at..at + 4)
                .and_then(|x| <[u8; 4]>::try_from(x).ok())
                .map(u32::from_ne_bytes)
        };
        loop {
            let n = self.recv()?;
            let rx = self.rx.get(..n).unwrap_or(&[]);
            let mut off = 0;
            while let Some(len) = u32_at(rx, off).map(|l| l as usize) {
                let Some(msg) = rx.get(off..off + len).filter(|_| len >= 16) else {
                    return Err(FibError::Decode(format!("bad nlmsg_len {len}")));
                };
                let ty = u16::from_ne_bytes([msg[4], msg[5]]);
                let body = msg.get(16..).unwrap_or(&[]);
                if u32_at(msg, 8) == Some(seq) {
                    match ty {
                        NLMSG_DONE => return Ok(()),
                        NLMSG_ERROR => {
                            let code = u32_at(body, 0).map(|c| c as i32).unwrap_or(0);
                            if code == 0 {
                                return Ok(());
                            }
                            return Err(FibError::from_errno(-code));
                        }
                        _ => f(ty, body),
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }

    fn recv(&mut self) -> Result<usize, FibError> {
        loop {
            match self.sock.recv(&mut &mut self.rx[..], 0) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FibError::Io(e)),
            }
        }
    }

    /// Queues one request (flags: NLM_F_CREATE etc.; NLM_F_REQUEST is added) and returns
    /// its index in the current batch. Callers `flush` when `batch_full()`.
    pub fn push(&mut self, flags: u16, msg: RouteNetlinkMessage) -> usize {
        let seq = self.next_seq();
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | flags;
        hdr.sequence_number = seq;
        let mut nl = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let start = self.tx.len();
        self.tx.resize(start + nl.buffer_len(), 0);
        if let Some(dst) = self.tx.get_mut(start..) {
            nl.serialize(dst);
        }
        self.starts.push(start);
        self.starts.len() - 1
    }

    pub fn batch_full(&self) -> bool {
        self.tx.len() >= BATCH_BYTES
    }

    pub fn batch_len(&self) -> usize {
        self.starts.len()
    }

    /// Sends the queued requests in one send() and returns one answer per request.
    pub fn flush(&mut self) -> Result<Vec<Answer>, FibError> {
        let count = self.starts.len();
        if count == 0 {
            return Ok(Vec::new());
        }
        // Ask for an ack on the last request only: it marks the end of the batch.
        let last = self.starts.last().copied().unwrap_or(0);
        let flags_at = last + 6;
        if let Some(fl) = self.tx.get_mut(flags_at..flags_at + 2) {
            let v = u16::from_ne_bytes([fl[0], fl[1]]) | NLM_F_ACK;
            fl.copy_from_slice(&v.to_ne_bytes());
        }
        let seq_of = |tx: &[u8], start: usize| -> u32 {
            tx.get(start + 8..start + 12)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_ne_bytes)
                .unwrap_or(0)
        };
        let first_seq = seq_of(&self.tx, self.starts.first().copied().unwrap_or(0));
        let last_seq = seq_of(&self.tx, last);
        let result = self.sock.send(&self.tx, 0);
        self.tx.clear();
        self.starts.clear();
        self.messages += count as u64;
        result?;
        self.sends += 1;

        let mut answers = vec![Answer::Ok; count];
        loop {
            let n = match self.recv() {
                Ok(n) => n,
                // Answers were dropped: whatever did not come back is unknown.
                Err(FibError::Io(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    for a in answers.iter_mut() {
                        if *a == Answer::Ok {
                            *a = Answer::Lost;
                        }
                    }
                    return Ok(answers);
                }
                Err(e) => return Err(e),
            };
            let mut finished = false;
            let rx = std::mem::take(&mut self.rx);
            let walked = for_each_message(rx.get(..n).unwrap_or(&[]), |m| {
                let seq = m.header.sequence_number;
                let idx = seq.wrapping_sub(first_seq) as usize;
                if idx >= count {
                    return; // a stale answer of an earlier batch
                }
                if let NetlinkPayload::Error(e) = &m.payload {
                    if let (Some(_), Some(a)) = (e.code, answers.get_mut(idx)) {
                        *a = Answer::Err(-e.raw_code());
                    }
                    if seq == last_seq {
                        finished = true;
                    }
                }
            });
            self.rx = rx;
            walked?;
            if finished {
                return Ok(answers);
            }
        }
    }
}
