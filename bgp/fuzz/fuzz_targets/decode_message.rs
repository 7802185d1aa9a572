//! Fuzz target: whole-message decoding. The first input octet picks the session options;
//! the rest is one BGP message (marker included). Nothing may panic, and anything that
//! decodes must re-encode to something that decodes to the same value.
//!
//! Run: `cd bgp && cargo +nightly fuzz run decode_message -- -max_total_time=600`

#![no_main]

use bgp::packet::{frame, DecodeOptions, Message};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&o, msg)) = data.split_first() else {
        return;
    };
    let opts = DecodeOptions {
        four_octet_as: o & 1 != 0,
        extended_message: o & 2 != 0,
    };
    let mut buf = BytesMut::from(msg);
    let _ = frame(&mut buf, opts.max_len());
    match Message::decode(msg, &opts) {
        Err(e) => {
            let _ = e.notification().to_string();
        }
        Ok(m) => {
            if let Message::Update(u) = &m {
                let _ = u.verdict().to_string();
                for x in &u.malformations {
                    let _ = x.notification();
                }
                if !u.malformations.is_empty() {
                    return;
                }
            }
            let _ = debug_text(&m);
            if let Ok(bytes) = m.to_bytes(&opts) {
                let again = Message::decode(&bytes, &opts).expect("re-encoded message decodes");
                assert_eq!(again, m, "decode(encode(decode(x))) == decode(x)");
            }
        }
    }
});

/// Debug output touches every field (Display of nested types included).
fn debug_text(m: &Message) -> String {
    format!("{m:?}")
}
