//! One TCP connection of a peer: the read half stays with the peer task (framed there
//! with the session's codec), the write half belongs to a writer task fed through a
//! bounded channel, so a peer that does not read stalls only its own writer.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages queued for the writer before the connection counts as stuck.
pub const WRITE_QUEUE: usize = 256;
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
}

/// The write queue is full: the peer has not read for a long time.
#[derive(Debug)]
pub struct Stuck;

impl Conn {
    pub fn new(stream: TcpStream) -> std::io::Result<Self> {
        // KEEPALIVEs and NOTIFICATIONs must not wait for Nagle; UPDATEs are batched by the
        // writer anyway.
        stream.set_nodelay(true)?;
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
        })
    }

    /// Queues one encoded message; never waits.
    pub fn send(&self, msg: Bytes) -> Result<(), Stuck> {
        self.tx.try_send(msg).map_err(|_| Stuck)
    }

    /// Queues one encoded message, waiting (at most `within`) for room: how the
    /// Adj-RIB-Out is paced by what the peer reads.
    pub async fn send_wait(&self, msg: Bytes, within: Duration) -> Result<(), Stuck> {
        match tokio::time::timeout(within, self.tx.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Stuck),
        }
    }

    /// Flushes what is queued, shuts down the write side (FIN) and drains the read side
    /// briefly. The handle finishes when the writer is done (so a caller that exits the
    /// process can wait for the NOTIFICATION to leave).
    pub fn close(self) -> JoinHandle<()> {
        let Conn {
            mut read,
            tx,
            writer,
            ..
        } = self;
        drop(tx);
        tokio::spawn(async move {
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
