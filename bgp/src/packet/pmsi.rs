//! PMSI_TUNNEL attribute (RFC 6514 section 5, RFC 7432 section 11.2, RFC 8365 section 5.1.3).
//!
//! OWNER NOTE (skeleton): types and signatures are fixed; bodies are being filled in.

use std::net::IpAddr;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

/// Tunnel type 6: ingress replication (head-end replication for VXLAN).
pub const TUNNEL_INGRESS_REPLICATION: u8 = 6;

#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunnelIdentifier {
    /// A tunnel endpoint address (ingress replication: the VTEP).
    Ip(IpAddr),
    /// Any other identifier, kept as received.
    Raw(Vec<u8>),
}

#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PmsiTunnel {
    pub flags: u8,
    pub tunnel_type: u8,
    /// 24-bit label field; the VNI under RFC 8365.
    pub label: u32,
    pub tunnel_id: TunnelIdentifier,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("PMSI_TUNNEL length {0} is too short (minimum 5)")]
pub struct PmsiError(pub usize);

impl PmsiTunnel {
    pub fn decode(value: &[u8]) -> Result<Self, PmsiError> {
        let _ = value;
        todo!()
    }

    pub fn encode(&self, out: &mut BytesMut) {
        let _ = out;
        todo!()
    }
}
