//! MinRouteAdvertisementIntervalTimer (RFC 4271 section 9.2.1.1), per peer and family, as
//! state of the Adj-RIB-Out rather than timers per route (FRR: `neighbor X
//! advertisement-interval N`).
//!
//! ```text
//!  gate open  <=>  interval = 0, or no advertising run yet, or now >= last_run + interval
//!
//!  drain, gate open:    dirty ──► withdrawals and advertisements sent, packed; a "run"
//!                                 lasts until nothing is dirty (the initial table dump
//!                                 after Established is one run); a run that advertised
//!                                 sets last_run = its end
//!  drain, gate closed:  dirty ──► withdrawals sent at once; advertisements go to `held`
//!                                 (a set: a key churned 10 times is held once)
//!  gate opens:          held ──► dirty, looked at again from the Adj-RIB-Out state: the
//!                                 peer gets what it should have NOW (latest attributes;
//!                                 a route added and withdrawn meanwhile: nothing)
//! ```
//!
//! Withdrawals are never held: RFC 1771 exempted them "to avoid long-lived black holes",
//! and draft-ietf-idr-mrai-dep allows it again (RFC 4271's wording counts them). No jitter
//! is applied. Time is the caller's (`Rib::set_clock_ms`); the RIB never reads a clock.

/// The interval's state for one peer and family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mrai {
    /// When the last run that advertised something ended (ms, the caller's clock); `None`
    /// since the family came up (the initial advertisement is never held).
    last_run: Option<u64>,
    /// The current run has sent advertisements.
    advertising: bool,
}

impl Mrai {
    /// Advertisements may be sent at `now` with an interval of `interval_ms`.
    pub fn is_open(&self, now: u64, interval_ms: u64) -> bool {
        self.opens_at(interval_ms).is_none_or(|t| now >= t)
    }

    /// When the gate opens (`None`: it is not closed at all).
    pub fn opens_at(&self, interval_ms: u64) -> Option<u64> {
        if interval_ms == 0 {
            return None;
        }
        self.last_run.map(|t| t.saturating_add(interval_ms))
    }

    /// This run sent advertisements.
    pub fn advertised(&mut self) {
        self.advertising = true;
    }

    /// Nothing is left to look at: a run that advertised ends at `now`.
    pub fn run_done(&mut self, now: u64) {
        if self.advertising {
            self.last_run = Some(now);
            self.advertising = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs that ended: (advertised something?, when).
    type Runs = &'static [(bool, u64)];

    #[test]
    fn gate_table() {
        // (interval ms, runs, now, open?)
        let cases: &[(u64, Runs, u64, bool)] = &[
            (0, &[(true, 1000)], 1000, true),
            (30_000, &[], 0, true),
            (30_000, &[(true, 1000)], 1000, false),
            (30_000, &[(true, 1000)], 30_999, false),
            (30_000, &[(true, 1000)], 31_000, true),
            // A run of withdrawals only does not restart the interval.
            (30_000, &[(true, 1000), (false, 20_000)], 31_000, true),
            (30_000, &[(true, 1000), (true, 20_000)], 31_000, false),
            (u64::MAX, &[(true, 5)], u64::MAX - 1, false),
        ];
        for (i, &(interval, runs, now, open)) in cases.iter().enumerate() {
            let mut m = Mrai::default();
            for &(adv, at) in runs {
                if adv {
                    m.advertised();
                }
                m.run_done(at);
            }
            assert_eq!(m.is_open(now, interval), open, "case {i}");
        }
    }
}
