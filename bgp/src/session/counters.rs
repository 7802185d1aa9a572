//! Per-session counters and the status snapshot the CLI shows (like FRR's
//! `show bgp neighbor`). Counters are plain numbers; times are kept as `Instant`s in the
//! session and turned into ages when a snapshot is taken, so nothing here reads a clock.

use serde::{Deserialize, Serialize};

use super::event::State;
use super::negotiate::Negotiated;
use crate::packet::notification::hex_bytes;
use crate::packet::{Message, Notification};

/// Sent and received counts for one message type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InOut {
    pub sent: u64,
    pub received: u64,
}

/// A NOTIFICATION as recorded for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub code: u8,
    pub subcode: u8,
    /// The data field, hex.
    pub data: String,
    /// "Cease / Administrative Shutdown: \"text\"" (the codec's `Display`).
    pub text: String,
}

impl From<&Notification> for NotificationRecord {
    fn from(n: &Notification) -> Self {
        Self {
            code: n.code,
            subcode: n.subcode,
            data: hex_bytes::to_hex(&n.data),
            // The codec's text: names, shutdown communication, max-prefix data.
            text: n.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub opens: InOut,
    pub updates: InOut,
    pub keepalives: InOut,
    pub notifications: InOut,
    pub route_refreshes: InOut,
    /// Times the session reached Established.
    pub established: u64,
    /// Times it dropped out of Established.
    pub dropped: u64,
    /// RFC 4271 ConnectRetryCounter.
    pub connect_retries: u64,
    pub last_notification_sent: Option<NotificationRecord>,
    pub last_notification_received: Option<NotificationRecord>,
    /// Why the session last went down, in words.
    pub last_error: Option<String>,
}

impl Counters {
    fn slot(&mut self, m: &Message) -> &mut InOut {
        match m {
            Message::Open(_) => &mut self.opens,
            Message::Update(_) => &mut self.updates,
            Message::Keepalive => &mut self.keepalives,
            Message::Notification(_) => &mut self.notifications,
            Message::RouteRefresh(_) => &mut self.route_refreshes,
        }
    }

    pub(crate) fn sent(&mut self, m: &Message) {
        self.slot(m).sent += 1;
        if let Message::Notification(n) = m {
            self.last_notification_sent = Some(n.into());
        }
    }

    pub(crate) fn received(&mut self, m: &Message) {
        self.slot(m).received += 1;
        if let Message::Notification(n) = m {
            self.last_notification_received = Some(n.into());
        }
    }
}

/// What `show bgp neighbor` needs, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub state: State,
    /// Seconds in the current state.
    pub state_age_secs: u64,
    /// Seconds since Established, when Established.
    pub uptime_secs: Option<u64>,
    /// Seconds since the last message from the peer, when connected.
    pub last_read_secs: Option<u64>,
    pub last_write_secs: Option<u64>,
    pub counters: Counters,
    pub negotiated: Option<Negotiated>,
}
