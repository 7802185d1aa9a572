//! Reading the golden captures in `tests/golden/` (see its README.md): the `.hex` files
//! (every distinct message once, `#` lines describing it above it), the `.list` files (every
//! message in capture order) and the pcaps.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod describe;

use std::path::PathBuf;

use bgp::packet::{DecodeOptions, Message};

/// The four scenarios, by file stem.
pub const SCENARIOS: [&str; 4] = ["frr-leaf-ibgp", "route-refresh", "frr-ebgp", "gobgp-evpn"];

/// Every OPEN in these captures announces the 4-octet AS capability, on both sides.
pub const OPTS: DecodeOptions = DecodeOptions {
    four_octet_as: true,
    extended_message: false,
};

/// Names extract-hex.sh gave the addresses (its NAMES table).
pub fn name_of(scenario: &str, ip: &str) -> String {
    let table: &[(&str, &str)] = if scenario == "gobgp-evpn" {
        &[("10.255.9.0", "gobgp"), ("10.255.9.1", "frr")]
    } else {
        &[
            ("10.255.1.0", "spine"),
            ("10.255.1.1", "leaf1"),
            ("10.255.2.0", "spine"),
            ("10.255.2.1", "leaf2"),
        ]
    };
    table
        .iter()
        .find(|(a, _)| *a == ip)
        .map_or_else(|| ip.to_string(), |(_, n)| n.to_string())
}

pub fn golden_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(file)
}

pub fn read_golden(file: &str) -> String {
    let p = golden_path(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// One message of a `.hex` file.
#[derive(Debug, Clone)]
pub struct HexEntry {
    /// 1-based position among the file's messages.
    pub index: usize,
    /// The `#` lines above it, without the file's 3-line preamble.
    pub comments: Vec<String>,
    /// Sender and receiver names, from the first comment line.
    pub src: String,
    pub dst: String,
    /// Frames listed on the `length` line.
    pub frames: String,
    pub bytes: Vec<u8>,
}

impl HexEntry {
    /// The one-line summary of the first comment line (after `# SRC -> DST `).
    pub fn summary(&self) -> &str {
        let head = &self.comments[0];
        let prefix = format!("# {} -> {} ", self.src, self.dst);
        head.strip_prefix(&prefix).unwrap_or(head)
    }

    pub fn decode(&self) -> Message {
        Message::decode(&self.bytes, &OPTS).unwrap_or_else(|e| {
            panic!(
                "message {} ({}) does not decode: {e}\n{}",
                self.index,
                self.summary(),
                hex::encode(&self.bytes)
            )
        })
    }
}

/// Parses `<scenario>.hex`.
pub fn hex_entries(scenario: &str) -> Vec<HexEntry> {
    let text = read_golden(&format!("{scenario}.hex"));
    let mut lines = text.lines();
    let preamble: Vec<&str> = lines.by_ref().take(3).collect();
    assert_eq!(
        preamble.first().copied(),
        Some(
            format!(
                "# {scenario}.pcap: every distinct BGP message (marker included), first-seen order."
            )
            .as_str()
        ),
        "unexpected preamble in {scenario}.hex"
    );
    assert!(preamble.iter().all(|l| l.starts_with("# ")));
    let mut out = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    for line in lines {
        if line.starts_with('#') {
            comments.push(line.to_string());
            continue;
        }
        let bytes = hex::decode(line.trim())
            .unwrap_or_else(|e| panic!("{scenario}.hex: bad hex line {line:?}: {e}"));
        let head = comments
            .first()
            .unwrap_or_else(|| panic!("{scenario}.hex: message without comments"));
        let words: Vec<&str> = head.split(' ').collect();
        assert!(
            words.len() > 4 && words[0] == "#" && words[2] == "->",
            "{scenario}.hex: unexpected first comment line {head:?}"
        );
        let frames = comments
            .get(1)
            .and_then(|l| l.split("frame(s) ").nth(1))
            .unwrap_or_else(|| panic!("{scenario}.hex: no frame(s) in {:?}", comments.get(1)))
            .to_string();
        out.push(HexEntry {
            index: out.len() + 1,
            src: words[1].to_string(),
            dst: words[3].to_string(),
            frames,
            comments: std::mem::take(&mut comments),
            bytes,
        });
    }
    assert!(
        comments.is_empty(),
        "{scenario}.hex: comments after the last message"
    );
    out
}

/// Every message of every `.hex` file, with its scenario.
pub fn all_entries() -> Vec<(&'static str, HexEntry)> {
    SCENARIOS
        .iter()
        .flat_map(|s| hex_entries(s).into_iter().map(move |e| (*s, e)))
        .collect()
}

/// A line-by-line diff, for readable failures.
pub fn diff(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                out.push_str(&format!(
                    "line {}:\n  golden: {}\n  ours:   {}\n",
                    i + 1,
                    a.unwrap_or(&"<none>"),
                    b.unwrap_or(&"<none>")
                ));
            }
        }
    }
    out
}
