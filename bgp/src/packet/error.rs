//! RFC 7606 (revised UPDATE error handling), in two steps as RustyBGP does: the UPDATE
//! parser records each malformation it finds (`Malformation`) and goes on where the RFC
//! lets it; `verdict()` is a pure function from those records to what the session must do.
//!
//! Per-fault approach (RFC 7606 section numbers; RFC 4271 6.3 subcodes for the NOTIFICATION):
//!
//! | fault                                   | approach                 | NOTIFICATION      |
//! |-----------------------------------------|--------------------------|-------------------|
//! | Withdrawn Routes Length overruns (4)    | session reset            | 3/1               |
//! | Total Path Attribute Length overruns (4)| session reset            | 3/1               |
//! | Withdrawn Routes syntax (3 f, 5.3)      | session reset            | 3/10              |
//! | NLRI syntax / trailing octets (5.3)     | session reset            | 3/10              |
//! | < 3 (4) octets left for a header (4)    | treat-as-withdraw        | 3/5, data=rest    |
//! | attribute overruns the area (4)         | treat-as-withdraw; MP: reset | 3/5; MP 3/9   |
//! | MP_REACH/MP_UNREACH twice (3 g)         | session reset            | 3/1               |
//! | any other attribute twice (3 g)         | later copies discarded   | -                 |
//! | Optional/Transitive flag conflict (3 c) | treat-as-withdraw; MP: reset (5.3) | 3/4; MP 3/9 |
//! | unrecognized well-known (RFC 4271 6.3)  | session reset            | 3/2, data=attr    |
//! | missing ORIGIN/AS_PATH/NEXT_HOP (3 d)   | treat-as-withdraw        | 3/3, data=type    |
//! | ORIGIN length or value (7.1)            | treat-as-withdraw        | 3/5 or 3/6        |
//! | AS_PATH malformed (7.2)                 | treat-as-withdraw        | 3/11              |
//! | NEXT_HOP length (7.3)                   | treat-as-withdraw        | 3/5               |
//! | MED, LOCAL_PREF length (7.4, 7.5)       | treat-as-withdraw        | 3/5               |
//! | ATOMIC_AGGREGATE length (7.6)           | attribute discard        | 3/5               |
//! | AGGREGATOR length (7.7)                 | attribute discard        | 3/5               |
//! | COMMUNITIES length (7.8)                | treat-as-withdraw        | 3/5               |
//! | ORIGINATOR_ID, CLUSTER_LIST (7.9, 7.10) | treat-as-withdraw        | 3/5               |
//! | MP_REACH/UNREACH incorrect (7.11, 5.3): short, next-hop length, NLRI | session reset | 3/9 |
//! | EXTENDED_COMMUNITIES length (7.14)      | treat-as-withdraw        | 3/5               |
//! | AS4_PATH, AS4_AGGREGATOR malformed (RFC 6793 6) | attribute discard | 3/11, 3/5        |
//! | AS4_* from a 4-octet-AS peer (RFC 6793 6) | attribute discard      | -                 |
//! | LARGE_COMMUNITIES length (RFC 8092 6)   | treat-as-withdraw        | 3/5               |
//! | PMSI_TUNNEL too short (RFC 7606 8 guidance) | treat-as-withdraw    | 3/5               |
//! | LOCAL_PREF/ORIGINATOR_ID/CLUSTER_LIST from eBGP (7.5, 7.9, 7.10) | attribute discard | - |
//! | leftmost AS is not the peer's (7.2, opt-in) | treat-as-withdraw     | 3/11              |
//!
//! Then (3 h) the strongest approach wins, and (5.2) an UPDATE without reachable NLRI whose
//! errors call for more than attribute discard is a session reset.
//!
//! Session-dependent rules are opt-in calls on the `Update`, made by the session before
//! `verdict()`: `apply_ebgp_rules()` for external peers (LOCAL_PREF, ORIGINATOR_ID and
//! CLUSTER_LIST are discarded, even malformed ones: 7.5, 7.9, 7.10) and
//! `check_first_as(peer_as)` (leftmost AS of AS_PATH, RFC 4271 6.3 / RFC 7606 7.2:
//! treat-as-withdraw). Left entirely to the session layer: NEXT_HOP semantics (local
//! address, martian; 7.3), ORIGINATOR_ID equal to our router id, LOCAL_PREF missing from an
//! iBGP peer, discarding EVPN routes of unknown type (5.4; they decode as
//! `EvpnNlri::Unknown`), and whether "AFI/SAFI disable" replaces a reset for MP errors.

use serde::{Deserialize, Serialize};

use super::attribute::{code, type_name};
use super::notification::{Notification, UpdateSubcode};

/// What is wrong. The attribute it concerns is in `Malformation::attr_type`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    WithdrawnLengthOverrun,
    AttributeLengthOverrun,
    InvalidWithdrawnRoutes,
    InvalidNlri,
    AttributeHeaderTruncated,
    AttributeOverrun,
    Duplicate,
    DuplicateMp,
    FlagsConflict,
    UnrecognizedWellKnown,
    MissingWellKnown,
    BadLength,
    InvalidOrigin,
    MalformedAsPath,
    InvalidMpAttribute,
    /// AS4_PATH / AS4_AGGREGATOR from a peer that negotiated 4-octet AS (RFC 6793 6).
    UnexpectedAs4Attribute,
    /// LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST from an external peer (RFC 7606 7.5,
    /// 7.9, 7.10); recorded by `Update::apply_ebgp_rules`.
    IbgpOnlyFromEbgp,
}

/// The error-handling approaches of RFC 7606 section 2, weakest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approach {
    AttributeDiscard,
    TreatAsWithdraw,
    SessionReset,
}

/// One malformation found while parsing an UPDATE.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Malformation {
    /// The attribute type code, when the fault is in an attribute.
    pub attr_type: Option<u8>,
    pub fault: Fault,
    /// Human detail (e.g. "length 3").
    pub detail: String,
    /// The NOTIFICATION data RFC 4271 6.3 asks for (attribute bytes, type code, or empty).
    #[serde(with = "super::notification::hex_bytes")]
    pub data: Vec<u8>,
}

fn is_mp(t: Option<u8>) -> bool {
    matches!(t, Some(code::MP_REACH_NLRI | code::MP_UNREACH_NLRI))
}

impl Malformation {
    pub fn new(
        attr_type: Option<u8>,
        fault: Fault,
        detail: impl Into<String>,
        data: Vec<u8>,
    ) -> Self {
        Self {
            attr_type,
            fault,
            detail: detail.into(),
            data,
        }
    }

    /// The approach RFC 7606 (and RFC 6793 / RFC 8092) prescribes for this malformation.
    pub fn approach(&self) -> Approach {
        use Approach::*;
        match self.fault {
            Fault::WithdrawnLengthOverrun
            | Fault::AttributeLengthOverrun
            | Fault::InvalidWithdrawnRoutes
            | Fault::InvalidNlri
            | Fault::DuplicateMp
            | Fault::UnrecognizedWellKnown
            | Fault::InvalidMpAttribute => SessionReset,
            Fault::Duplicate | Fault::UnexpectedAs4Attribute | Fault::IbgpOnlyFromEbgp => {
                AttributeDiscard
            }
            Fault::MissingWellKnown => TreatAsWithdraw,
            // The NLRI of an MP attribute that cannot be trusted cannot be withdrawn.
            _ if is_mp(self.attr_type) => SessionReset,
            Fault::AttributeHeaderTruncated => TreatAsWithdraw,
            Fault::AttributeOverrun | Fault::FlagsConflict | Fault::InvalidOrigin => {
                TreatAsWithdraw
            }
            Fault::BadLength | Fault::MalformedAsPath => match self.attr_type {
                Some(
                    code::ATOMIC_AGGREGATE
                    | code::AGGREGATOR
                    | code::AS4_PATH
                    | code::AS4_AGGREGATOR,
                ) => AttributeDiscard,
                _ => TreatAsWithdraw,
            },
        }
    }

    /// The NOTIFICATION RFC 4271 section 6.3 (RFC 4760 section 7 for MP attributes) gives
    /// for this malformation, if it leads to a session reset.
    pub fn notification(&self) -> Notification {
        use UpdateSubcode::*;
        let sub = match self.fault {
            Fault::WithdrawnLengthOverrun | Fault::AttributeLengthOverrun | Fault::DuplicateMp => {
                MalformedAttributeList
            }
            // Discards never reset; the subcode is nominal.
            Fault::Duplicate | Fault::UnexpectedAs4Attribute | Fault::IbgpOnlyFromEbgp => {
                MalformedAttributeList
            }
            Fault::InvalidWithdrawnRoutes | Fault::InvalidNlri => InvalidNetworkField,
            Fault::UnrecognizedWellKnown => UnrecognizedWellKnownAttribute,
            Fault::MissingWellKnown => MissingWellKnownAttribute,
            _ if is_mp(self.attr_type) => OptionalAttributeError,
            Fault::InvalidMpAttribute => OptionalAttributeError,
            Fault::FlagsConflict => AttributeFlagsError,
            Fault::AttributeHeaderTruncated | Fault::AttributeOverrun | Fault::BadLength => {
                AttributeLengthError
            }
            Fault::InvalidOrigin => InvalidOriginAttribute,
            Fault::MalformedAsPath => MalformedAsPath,
        };
        let data = match sub {
            // RFC 4271 6.3 gives no data for these.
            MalformedAttributeList | InvalidNetworkField | UpdateSubcode::MalformedAsPath => {
                Vec::new()
            }
            _ => self.data.clone(),
        };
        Notification::update(sub, data)
    }
}

impl std::fmt::Display for Malformation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(t) = self.attr_type {
            match type_name(t) {
                Some(n) => write!(f, "{n}: ")?,
                None => write!(f, "attribute {t}: ")?,
            }
        }
        write!(f, "{:?}", self.fault)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// What the session must do with an UPDATE.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No malformation.
    Accept,
    /// Occurrences of the listed attribute types were dropped (a malformed attribute, or
    /// the later copies of a repeated one; what is left is in `Update::attributes`). The
    /// routes stand.
    AttributeDiscard { discarded: Vec<u8> },
    /// Every route of the UPDATE (NLRI field and MP_REACH_NLRI) is to be handled as
    /// withdrawn; MP_UNREACH and Withdrawn Routes still withdraw.
    TreatAsWithdraw,
    /// Send this NOTIFICATION and close the session.
    SessionReset(Notification),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Accept => f.write_str("accept"),
            Self::AttributeDiscard { discarded } => {
                f.write_str("attribute-discard")?;
                for t in discarded {
                    match type_name(*t) {
                        Some(n) => write!(f, " {n}")?,
                        None => write!(f, " {t}")?,
                    }
                }
                Ok(())
            }
            Self::TreatAsWithdraw => f.write_str("treat-as-withdraw"),
            Self::SessionReset(n) => write!(f, "session-reset: {n}"),
        }
    }
}

/// RFC 7606 section 3 (h) and 5.2: the strongest approach wins; without reachable NLRI
/// anything stronger than attribute discard becomes a session reset. `reachable_nlri`: the
/// UPDATE carries NLRI in its NLRI field or in MP_REACH_NLRI.
pub fn verdict(malformations: &[Malformation], reachable_nlri: bool) -> Verdict {
    let Some(strongest) = malformations.iter().map(Malformation::approach).max() else {
        return Verdict::Accept;
    };
    let first = |a: Approach| malformations.iter().find(|m| m.approach() == a);
    match strongest {
        Approach::SessionReset => first(strongest)
            .map(|m| Verdict::SessionReset(m.notification()))
            .unwrap_or(Verdict::Accept),
        Approach::TreatAsWithdraw if !reachable_nlri => first(strongest)
            .map(|m| Verdict::SessionReset(m.notification()))
            .unwrap_or(Verdict::Accept),
        Approach::TreatAsWithdraw => Verdict::TreatAsWithdraw,
        Approach::AttributeDiscard => {
            let mut discarded: Vec<u8> = malformations.iter().filter_map(|m| m.attr_type).collect();
            discarded.dedup();
            Verdict::AttributeDiscard { discarded }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: Option<u8>, f: Fault) -> Malformation {
        Malformation::new(t, f, "", vec![0xaa])
    }

    #[test]
    fn strongest_wins() {
        assert_eq!(verdict(&[], true), Verdict::Accept);
        let d = m(Some(code::ATOMIC_AGGREGATE), Fault::BadLength);
        let w = m(Some(code::ORIGIN), Fault::InvalidOrigin);
        let r = m(None, Fault::InvalidNlri);
        assert_eq!(
            verdict(std::slice::from_ref(&d), true),
            Verdict::AttributeDiscard {
                discarded: vec![code::ATOMIC_AGGREGATE]
            }
        );
        assert_eq!(
            verdict(&[d.clone(), w.clone()], true),
            Verdict::TreatAsWithdraw
        );
        assert_eq!(
            verdict(&[d.clone(), w.clone(), r], true),
            Verdict::SessionReset(Notification::update(
                UpdateSubcode::InvalidNetworkField,
                vec![]
            ))
        );
    }

    #[test]
    fn verdict_text() {
        assert_eq!(Verdict::Accept.to_string(), "accept");
        assert_eq!(
            Verdict::AttributeDiscard {
                discarded: vec![7, 200]
            }
            .to_string(),
            "attribute-discard AGGREGATOR 200"
        );
        assert_eq!(
            Verdict::SessionReset(Notification::update(
                UpdateSubcode::MalformedAttributeList,
                vec![]
            ))
            .to_string(),
            "session-reset: UPDATE Message Error / Malformed Attribute List"
        );
    }

    #[test]
    fn no_reachable_nlri_escalates_withdraw_but_not_discard() {
        let d = m(Some(code::AGGREGATOR), Fault::BadLength);
        let w = m(Some(code::ORIGIN), Fault::InvalidOrigin);
        assert!(matches!(
            verdict(std::slice::from_ref(&d), false),
            Verdict::AttributeDiscard { .. }
        ));
        assert_eq!(
            verdict(&[d, w], false),
            Verdict::SessionReset(Notification::update(
                UpdateSubcode::InvalidOriginAttribute,
                vec![0xaa]
            ))
        );
    }

    #[test]
    fn mp_faults_reset_with_optional_attribute_error() {
        for f in [
            Fault::AttributeHeaderTruncated,
            Fault::FlagsConflict,
            Fault::AttributeOverrun,
            Fault::InvalidMpAttribute,
            Fault::BadLength,
        ] {
            let x = m(Some(code::MP_REACH_NLRI), f);
            assert_eq!(x.approach(), Approach::SessionReset, "{f:?}");
            assert_eq!(
                x.notification(),
                Notification::update(UpdateSubcode::OptionalAttributeError, vec![0xaa])
            );
        }
        let dup = m(Some(code::MP_UNREACH_NLRI), Fault::DuplicateMp);
        assert_eq!(
            dup.notification(),
            Notification::update(UpdateSubcode::MalformedAttributeList, vec![])
        );
    }
}
