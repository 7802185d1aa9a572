//! One TCP connection of a peer: the read half stays with the peer task (framed there
//! with the session's codec), the write half belongs to a writer task fed through a
//! bounded channel, so a peer that does not read stalls only its own writer.
//!
//! When the channel is full, messages wait in `waiting` (at most the batch of UPDATEs
//! the core handed over, plus the session's few messages) and move on as the writer
//! makes room: the peer task never blocks on a slow peer, so it keeps reading the
//! socket (the peer's KEEPALIVEs restart our hold timer) and running its timers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::mpsc::OwnedPermit;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Messages queued for the writer before the connection counts as stuck.
pub const WRITE_QUEUE: usize = 256;
/// Unsent octets the kernel holds for a peer (`TCP_NOTSENT_LOWAT`): enough to keep a
/// fast link busy between two wake-ups of the writer (it writes up to 64 KiB at once);
/// what a slow peer has not read beyond that stays in the Adj-RIB-Out, so it later
/// gets the latest state instead of megabytes of stale UPDATEs.
pub const NOTSENT_LOWAT: u32 = 128 * 1024;
/// How long `close` keeps reading after shutting down the write side, so the peer reads
/// our NOTIFICATION and closes first instead of getting an RST.
const DRAIN: Duration = Duration::from_secs(2);
/// How long `close` waits for queued messages to be written.
const WRITER_GRACE: Duration = Duration::from_secs(5);

pub struct Conn {
    pub read: OwnedReadHalf,
    pub buf: BytesMut,
    pub remote: SocketAddr,
    pub local: Option<SocketAddr>,
    tx: mpsc::Sender<Bytes>,
    writer: JoinHandle<()>,
    /// Messages for which the write queue had no room yet, in order.
    waiting: VecDeque<Bytes>,
    /// Since when `waiting` has not moved (no room in the write queue).
    stalled_since: Option<Instant>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> std::io::Result<Self> {
        // KEEPALIVEs and NOTIFICATIONs must not wait for Nagle; UPDATEs are batched by the
        // writer anyway.
        stream.set_nodelay(true)?;
        // An optimisation only (Linux >= 3.12): without it the kernel buffers more.
        if let Err(e) = crate::sockopt::set_notsent_lowat(stream.as_raw_fd(), NOTSENT_LOWAT) {
            tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT not set");
        }
        let remote = stream.peer_addr()?;
        let local = stream.local_addr().ok();
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let writer = tokio::spawn(write_loop(write, rx));
        Ok(Self {
            read,
            buf: BytesMut::with_capacity(8192),
            remote,
            local,
            tx,
            writer,
            waiting: VecDeque::new(),
            stalled_since: None,
        })
    }

    /// Queues one encoded message behind those waiting; never waits. What finds no room
    /// in the write queue waits for `room` (the Adj-RIB-Out is paced by what the peer
    /// reads: the core hands over the next batch when this one has left `waiting`).
    pub fn send(&mut self, msg: Bytes) {
        if self.waiting.is_empty() {
            self.stalled_since = Some(Instant::now());
        }
        self.waiting.push_back(msg);
        self.pump();
    }

    /// Whether messages wait for room in the write queue.
    pub fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Since when messages wait without the writer taking any: the peer reads nothing.
    pub fn stalled_since(&self) -> Option<Instant> {
        self.stalled_since.filter(|_| self.is_waiting())
    }

    /// While messages wait: a handle to await room with (`Sender::reserve_owned`), owned
    /// so that the peer task can await it next to a read of this same connection.
    pub fn room(&self) -> Option<mpsc::Sender<Bytes>> {
        self.is_waiting().then(|| self.tx.clone())
    }

    /// The writer made room: the oldest waiting message takes it, then as many as fit.
    pub fn fill(&mut self, permit: OwnedPermit<Bytes>) {
        if let Some(m) = self.waiting.pop_front() {
            permit.send(m);
            self.stalled_since = Some(Instant::now());
        }
        self.pump();
    }

    fn pump(&mut self) {
        while let Some(m) = self.waiting.pop_front() {
            match self.tx.try_send(m) {
                Ok(()) => self.stalled_since = Some(Instant::now()),
                Err(mpsc::error::TrySendError::Full(m)) => {
                    self.waiting.push_front(m);
                    return;
                }
                // The writer is gone (write error): the reader sees the failure too.
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.waiting.clear();
                    return;
                }
            }
        }
    }

    /// Flushes what is queued and waiting, shuts down the write side (FIN) and drains
    /// the read side briefly. The handle finishes when the writer is done (so a caller
    /// that exits the process can wait for the NOTIFICATION to leave).
    pub fn close(self) -> JoinHandle<()> {
        let Conn {
            mut read,
            tx,
            writer,
            waiting,
            ..
        } = self;
        tokio::spawn(async move {
            // Waiting messages (a NOTIFICATION last) go after the queued ones, unless
            // the peer does not read.
            let _ = tokio::time::timeout(WRITER_GRACE, async {
                for m in waiting {
                    if tx.send(m).await.is_err() {
                        break;
                    }
                }
            })
            .await;
            drop(tx);
            // A writer blocked on a peer that never reads is given up after a while.
            let mut writer = writer;
            if tokio::time::timeout(WRITER_GRACE, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
            let mut scratch = [0u8; 4096];
            let _ = tokio::time::timeout(DRAIN, async {
                while let Ok(n) = read.read(&mut scratch).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        })
    }
}

async fn write_loop(mut w: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    let mut out = BytesMut::new();
    while let Some(first) = rx.recv().await {
        out.extend_from_slice(&first);
        // Whatever else is queued goes out in the same write.
        while out.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(more) => out.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if w.write_all(&out).await.is_err() {
            // The reader sees the failure too and reports it to the session.
            return;
        }
        out.clear();
    }
    let _ = w.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A connection to a peer that reads nothing until told to; `msg(i)` is 1000 octets
    /// of the byte `i`, so the order of what arrives can be checked.
    async fn pair() -> (Conn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_send_buffer_size(4096).expect("sndbuf");
        let (ours, theirs) = tokio::join!(sock.connect(addr), l.accept());
        let conn = Conn::new(ours.expect("connect")).expect("conn");
        (conn, theirs.expect("accept").0)
    }

    fn msg(i: usize) -> Bytes {
        Bytes::from(vec![i as u8; 1000])
    }

    #[tokio::test]
    async fn messages_wait_without_blocking_then_go_in_order() {
        let (mut conn, mut peer) = pair().await;
        let n = WRITE_QUEUE + 2000;
        for i in 0..n {
            conn.send(msg(i));
        }
        // The peer reads nothing: the queue and the sockets fill, the rest waits here.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(conn.is_waiting());
        let since = conn.stalled_since().expect("stalled");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            conn.stalled_since(),
            Some(since),
            "no progress, same instant"
        );

        // The peer reads: room comes, waiting messages move on, all arrive in order.
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; n * 1000];
            peer.read_exact(&mut got).await.map(|_| got)
        });
        while let Some(tx) = conn.room() {
            let permit = tx.reserve_owned().await.expect("writer alive");
            conn.fill(permit);
        }
        assert_eq!(conn.stalled_since(), None);
        let got = reader.await.expect("join").expect("read");
        for (i, chunk) in got.chunks(1000).enumerate() {
            assert!(
                chunk.iter().all(|b| *b == i as u8),
                "message {i} out of order"
            );
        }
    }

    #[tokio::test]
    async fn close_sends_what_waits() {
        let (mut conn, mut peer) = pair().await;
        let n = WRITE_QUEUE + 500;
        for i in 0..n {
            conn.send(msg(i));
        }
        assert!(conn.is_waiting());
        let closing = conn.close();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.expect("read");
        assert_eq!(got.len(), n * 1000, "every message, then FIN");
        assert_eq!(got.last(), Some(&((n - 1) as u8)));
        closing.await.expect("close task");
    }
}
