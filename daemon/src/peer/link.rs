//! One session of a peer with its connection, timers and codec: the peer task has one,
//! and a second during a connection collision.

use std::time::Duration;

use bgp::packet::DecodeOptions;
use bgp::session::{Session, State, TimerKind};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::conn::Conn;

/// A session with its connection and timers.
pub(super) struct Link {
    pub(super) session: Session,
    pub(super) conn: Option<Conn>,
    pub(super) connecting: Option<JoinHandle<()>>,
    pub(super) timers: [Option<Instant>; TimerKind::ALL.len()],
    pub(super) codec: DecodeOptions,
    /// Created for an inbound connection during a collision, then kept as the winner.
    pub(super) promoted: bool,
}

impl Link {
    pub(super) fn new(session: Session) -> Self {
        Self {
            session,
            conn: None,
            connecting: None,
            timers: [None; TimerKind::ALL.len()],
            codec: DecodeOptions::default(),
            promoted: false,
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    pub(super) fn idle(&self) -> bool {
        self.session.state() == State::Idle && self.conn.is_none() && self.connecting.is_none()
    }

    /// How long messages may wait for room in the write queue before the peer counts as
    /// not reading (and is dropped): its hold time, at least 30 s. Meanwhile its
    /// KEEPALIVEs are read and our timers run as usual.
    pub(super) fn send_hold(&self) -> Duration {
        let hold = self
            .session
            .negotiated()
            .map_or(90, |n| u64::from(n.hold_time).max(30));
        Duration::from_secs(hold)
    }

    /// When the peer counts as not reading, while messages wait for room.
    pub(super) fn send_hold_deadline(&self) -> Option<Instant> {
        let since = self.conn.as_ref()?.stalled_since()?;
        Some(since + self.send_hold())
    }
}

/// Waits for room in a connection's write queue (never, without a handle).
pub(super) async fn room(tx: Option<mpsc::Sender<Bytes>>) -> Option<mpsc::OwnedPermit<Bytes>> {
    match tx {
        Some(tx) => tx.reserve_owned().await.ok(),
        None => std::future::pending().await,
    }
}

pub(super) fn slot(k: TimerKind) -> usize {
    TimerKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}
