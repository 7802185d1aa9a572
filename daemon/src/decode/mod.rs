//! `evpnctl decode`: BGP messages from hex or a capture, printed as a tree or JSON.

pub mod input;
pub mod pcap;
pub mod render;

use std::collections::HashMap;

use bgp::packet::{DecodeOptions, Message};

pub use render::{Decoded, Origin};

/// Capability codes that change how later messages decode.
const CAP_FOUR_OCTET_AS: u8 = 65;
const CAP_EXTENDED_MESSAGE: u8 = 6;

/// What one side's OPEN announced: (4-octet AS, extended message).
type OpenCaps = (bool, bool);

/// Decodes standalone messages (hex input) with fixed options.
pub fn decode_all(messages: &[&[u8]], opts: &DecodeOptions) -> Vec<Decoded> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| Decoded {
            index: i + 1,
            origin: None,
            bytes: m.to_vec(),
            result: Message::decode(m, opts),
        })
        .collect()
}

/// Decodes captured messages. Each TCP connection's options follow its OPENs: 4-octet AS
/// and extended messages apply once both sides announced them, as on the session itself.
/// `base` applies until both OPENs are seen (a capture may start mid-session).
pub fn decode_capture(messages: &[pcap::CapturedMessage], base: &DecodeOptions) -> Vec<Decoded> {
    // Per connection: the capabilities each side's OPEN announced.
    let mut opens: HashMap<(String, String), [Option<OpenCaps>; 2]> = HashMap::new();
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let (a, b) = (m.src.to_string(), m.dst.to_string());
        let (key, side) = if a <= b { ((a, b), 0) } else { ((b, a), 1) };
        let seen = opens.entry(key).or_default();
        let opts = match seen {
            [Some(x), Some(y)] => DecodeOptions {
                four_octet_as: x.0 && y.0,
                extended_message: x.1 && y.1,
            },
            _ => *base,
        };
        let result = Message::decode(&m.bytes, &opts);
        if let Ok(Message::Open(o)) = &result {
            seen[side] = Some((o.has(CAP_FOUR_OCTET_AS), o.has(CAP_EXTENDED_MESSAGE)));
        }
        out.push(Decoded {
            index: i + 1,
            origin: Some(Origin {
                frame: m.frame,
                timestamp: m.timestamp,
                src: m.src.to_string(),
                dst: m.dst.to_string(),
            }),
            bytes: m.bytes.clone(),
            result,
        });
    }
    out
}
