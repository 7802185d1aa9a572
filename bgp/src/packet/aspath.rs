//! AS_PATH and AS4_PATH (RFC 4271 section 4.3 b, RFC 5065 confederation segments, RFC 6793),
//! with the malformation rules of RFC 7606 section 7.2.

use std::fmt;

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::multi::count;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::open::AS_TRANS;
use super::parse::{be_u16, be_u32, be_u8, ok_or};

/// Path segment type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentType {
    AsSet = 1,
    AsSequence = 2,
    AsConfedSequence = 3,
    AsConfedSet = 4,
}

impl SegmentType {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::AsSet),
            2 => Some(Self::AsSequence),
            3 => Some(Self::AsConfedSequence),
            4 => Some(Self::AsConfedSet),
            _ => None,
        }
    }
}

/// One path segment.
///
/// ```text
/// +---------------+---------------+-------------------------------+
/// | segment type  | segment length| ASNs (2 or 4 octets each) ... |
/// +---------------+---------------+-------------------------------+
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct AsSegment {
    #[serde(rename = "type")]
    pub kind: SegmentType,
    pub asns: Vec<u32>,
}

/// AS_PATH / AS4_PATH: a sequence of segments (may be empty, e.g. iBGP-originated).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

/// Why an AS path is malformed (RFC 7606 section 7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    #[error("unknown segment type {0}")]
    UnknownSegmentType(u8),
    #[error("segment of length zero")]
    ZeroLengthSegment,
    #[error("segment overruns the attribute")]
    Overrun,
    #[error("a single octet left after the last segment")]
    Underrun,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn sequence(asns: Vec<u32>) -> Self {
        if asns.is_empty() {
            return Self::default();
        }
        Self {
            segments: vec![AsSegment {
                kind: SegmentType::AsSequence,
                asns,
            }],
        }
    }

    /// `four_octet`: 4-octet ASNs (negotiated RFC 6793, and always for AS4_PATH).
    pub fn decode(mut data: &[u8], four_octet: bool) -> Result<Self, AsPathError> {
        let width = if four_octet { 4 } else { 2 };
        let mut segments = Vec::with_capacity(1);
        while !data.is_empty() {
            let (rest, (t, n)) = ok_or((be_u8, be_u8).parse(data), || AsPathError::Underrun)?;
            let kind = SegmentType::from_u8(t).ok_or(AsPathError::UnknownSegmentType(t))?;
            if n == 0 {
                return Err(AsPathError::ZeroLengthSegment);
            }
            let n = usize::from(n);
            // The segment must fit before any ASN is read (an overrun is not a short list).
            let (rest, body) = ok_or(take(n * width).parse(rest), || AsPathError::Overrun)?;
            let asns = if four_octet {
                count(be_u32, n).parse(body)
            } else {
                count(be_u16.map(u32::from), n).parse(body)
            };
            // `body` holds exactly `n` ASNs, so `count` cannot run short.
            let (_, asns) = ok_or(asns, || AsPathError::Overrun)?;
            segments.push(AsSegment { kind, asns });
            data = rest;
        }
        Ok(Self { segments })
    }

    /// Encodes the segments. With 2-octet ASNs, an ASN above 65535 becomes AS_TRANS
    /// (RFC 6793 section 4.2.2). Segments longer than 255 ASNs are split.
    pub fn encode(&self, out: &mut BytesMut, four_octet: bool) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(255) {
                out.put_u8(seg.kind as u8);
                out.put_u8(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        out.put_u32(asn);
                    } else {
                        out.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS));
                    }
                }
            }
        }
    }

    /// The leftmost AS of the first AS_SEQUENCE (the neighbour AS, RFC 4271 section 6.3).
    pub fn first_as(&self) -> Option<u32> {
        match self.segments.first() {
            Some(AsSegment {
                kind: SegmentType::AsSequence,
                asns,
            }) => asns.first().copied(),
            _ => None,
        }
    }

    /// Path length for best-path selection (RFC 4271 9.1.2.2: a set counts 1, confederation
    /// segments count 0).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::AsSequence => s.asns.len(),
                SegmentType::AsSet => 1,
                _ => 0,
            })
            .sum()
    }

    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }
}

impl fmt::Display for AsPath {
    /// FRR's notation: `65001 65002 {65003,65004} (65005)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let (open, sep, close) = match seg.kind {
                SegmentType::AsSequence => ("", " ", ""),
                SegmentType::AsSet => ("{", ",", "}"),
                SegmentType::AsConfedSequence => ("(", " ", ")"),
                SegmentType::AsConfedSet => ("[", ",", "]"),
            };
            f.write_str(open)?;
            for (j, a) in seg.asns.iter().enumerate() {
                if j > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_segment_types_both_widths() {
        let path = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentType::AsConfedSequence,
                    asns: vec![65100],
                },
                AsSegment {
                    kind: SegmentType::AsSequence,
                    asns: vec![65001, 65002],
                },
                AsSegment {
                    kind: SegmentType::AsSet,
                    asns: vec![1, 2],
                },
                AsSegment {
                    kind: SegmentType::AsConfedSet,
                    asns: vec![3],
                },
            ],
        };
        let mut four = BytesMut::new();
        path.encode(&mut four, true);
        assert_eq!(four.len(), 4 * 2 + 6 * 4);
        assert_eq!(AsPath::decode(&four, true).unwrap(), path);
        let mut two = BytesMut::new();
        path.encode(&mut two, false);
        assert_eq!(
            &two[..],
            &[3, 1, 0xfe, 0x4c, 2, 2, 0xfd, 0xe9, 0xfd, 0xea, 1, 2, 0, 1, 0, 2, 4, 1, 0, 3]
        );
        assert_eq!(AsPath::decode(&two, false).unwrap(), path);
        assert_eq!(path.to_string(), "(65100) 65001 65002 {1,2} [3]");
        assert_eq!(path.path_len(), 3);
        assert_eq!(path.first_as(), None, "first segment is a confed one");
        assert_eq!(AsPath::sequence(vec![7, 8]).first_as(), Some(7));
    }

    #[test]
    fn big_asn_on_two_octet_session_is_as_trans() {
        let mut out = BytesMut::new();
        AsPath::sequence(vec![4_200_000_000, 65000]).encode(&mut out, false);
        assert_eq!(&out[..], &[2, 2, 0x5b, 0xa0, 0xfd, 0xe8]);
    }

    #[test]
    fn malformations() {
        assert_eq!(
            AsPath::decode(&[5, 1, 0, 1], false),
            Err(AsPathError::UnknownSegmentType(5))
        );
        assert_eq!(
            AsPath::decode(&[2, 0], false),
            Err(AsPathError::ZeroLengthSegment)
        );
        assert_eq!(
            AsPath::decode(&[2, 2, 0, 1, 0], false),
            Err(AsPathError::Overrun)
        );
        assert_eq!(
            AsPath::decode(&[2, 1, 0, 1, 2], false),
            Err(AsPathError::Underrun)
        );
        assert_eq!(
            AsPath::decode(&[2, 1, 0, 1], true),
            Err(AsPathError::Overrun)
        );
        assert_eq!(AsPath::decode(&[], true), Ok(AsPath::default()));
    }
}
