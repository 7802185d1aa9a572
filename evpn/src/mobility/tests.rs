use super::*;
use crate::testutil::*;

const US: &str = "10.0.0.1";

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn remote(vtep: &str, sequence: u32, sticky: bool) -> Option<RemoteBest> {
    Some(RemoteBest {
        vtep: ip(vtep),
        mobility: Mobility { sequence, sticky },
    })
}

fn adv(sequence: u32, sticky: bool) -> Option<Mobility> {
    Some(Mobility { sequence, sticky })
}

fn key() -> FdbKey {
    fk(100, "02:00:00:00:00:01")
}

fn moved(vtep: &str, sequence: u32, sticky: bool) -> Event {
    Event::MacMovedAway {
        key: key(),
        vtep: ip(vtep),
        sequence,
        sticky,
    }
}

/// One step of a scenario.
enum Step {
    Learn {
        sticky: bool,
        remote: Option<RemoteBest>,
    },
    Remote(Option<RemoteBest>),
}

#[test]
fn scenarios() {
    use Step::*;
    // (name, steps, expected advertisement after the last step, expected events)
    type Case = (&'static str, Vec<Step>, Option<Mobility>, Vec<Event>);
    let cases: Vec<Case> = vec![
        (
            "new local MAC, nothing remote: sequence 0",
            vec![Learn {
                sticky: false,
                remote: None,
            }],
            adv(0, false),
            vec![],
        ),
        (
            "learned while a remote route exists: remote + 1",
            vec![Learn {
                sticky: false,
                remote: remote("10.0.0.2", 3, false),
            }],
            adv(4, false),
            vec![],
        ),
        (
            "remote with a higher sequence: moved away, withdraw",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 1, false)),
            ],
            None,
            vec![moved("10.0.0.2", 1, false)],
        ),
        (
            "remote with a lower sequence: ours stays",
            vec![
                Learn {
                    sticky: false,
                    remote: remote("10.0.0.2", 5, false),
                },
                Remote(remote("10.0.0.3", 2, false)),
            ],
            adv(6, false),
            vec![],
        ),
        (
            "equal sequence, remote VTEP lower: remote wins",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.0", 0, false)),
            ],
            None,
            vec![moved("10.0.0.0", 0, false)],
        ),
        (
            "equal sequence, remote VTEP higher: we win",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.9", 0, false)),
            ],
            adv(0, false),
            vec![],
        ),
        (
            "remote sticky beats local non-sticky",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 0, true)),
            ],
            None,
            vec![moved("10.0.0.2", 0, true)],
        ),
        (
            "remote sticky present when learned: not advertised",
            vec![Learn {
                sticky: false,
                remote: remote("10.0.0.2", 0, true),
            }],
            None,
            vec![moved("10.0.0.2", 0, true)],
        ),
        (
            "local sticky never moves, even against a higher sequence",
            vec![
                Learn {
                    sticky: true,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 10, false)),
            ],
            adv(0, true),
            vec![],
        ),
        (
            "both sticky: flagged once, ours stays",
            vec![
                Learn {
                    sticky: true,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 0, true)),
                Remote(remote("10.0.0.2", 0, true)),
            ],
            adv(0, true),
            vec![Event::StickyConflict {
                key: key(),
                vtep: ip("10.0.0.2"),
            }],
        ),
        (
            "host moves back after moving away: beats the remote sequence",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 1, false)),
                Learn {
                    sticky: false,
                    remote: remote("10.0.0.2", 1, false),
                },
            ],
            adv(2, false),
            vec![moved("10.0.0.2", 1, false)],
        ),
        (
            "superseded, then a weaker remote: the host stays over there",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 3, false)),
                Remote(remote("10.0.0.9", 3, false)),
            ],
            None,
            vec![moved("10.0.0.2", 3, false)],
        ),
        (
            "remote withdrawn while superseded: ours again",
            vec![
                Learn {
                    sticky: false,
                    remote: None,
                },
                Remote(remote("10.0.0.2", 1, false)),
                Remote(None),
            ],
            adv(1, false),
            vec![moved("10.0.0.2", 1, false)],
        ),
    ];
    for (name, steps, want_adv, want_events) in cases {
        let mut t = MobilityTable::new(DadConfig::default());
        let mut events = vec![];
        for (i, step) in steps.into_iter().enumerate() {
            let now = s(i as u64);
            match step {
                Learn { sticky, remote } => {
                    t.local_learned(key(), sticky, remote, ip(US), now, &mut events)
                }
                Remote(r) => t.remote_changed(key(), r, ip(US), now, &mut events),
            }
        }
        assert_eq!(t.advertised(&key()), want_adv, "{name}");
        assert_eq!(t.superseded(&key()), want_adv.is_none(), "{name}");
        assert_eq!(events, want_events, "{name}");
    }
}

/// Alternates moves: even steps learn locally (over the remote seq), odd steps receive a
/// remote route with a higher sequence. Returns the events and the table.
fn bounce(times: &[u64]) -> (MobilityTable, Vec<Event>) {
    let mut t = MobilityTable::new(DadConfig::default());
    let mut events = vec![];
    // Start: local, advertised at 0, no remote (not a move).
    t.local_learned(key(), false, None, ip(US), s(0), &mut events);
    let mut remote_seq = 0;
    for (i, &at) in times.iter().enumerate() {
        let ours = t.get(&key()).unwrap().sequence;
        if i % 2 == 0 {
            remote_seq = ours + 1;
            t.remote_changed(
                key(),
                remote("10.0.0.2", remote_seq, false),
                ip(US),
                s(at),
                &mut events,
            );
        } else {
            t.local_learned(
                key(),
                false,
                remote("10.0.0.2", remote_seq, false),
                ip(US),
                s(at),
                &mut events,
            );
        }
    }
    (t, events)
}

#[test]
fn dad_freezes_at_the_fifth_move_within_180s() {
    // Four moves: not yet.
    let (t, events) = bounce(&[10, 50, 90, 130]);
    assert!(!t.get(&key()).unwrap().frozen());
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::DuplicateMac { .. })));
    // The fifth move, exactly 180 s after the first: frozen, reported once, and the move
    // is not acted on (the advertisement of move 4 stays).
    let (t, events) = bounce(&[10, 50, 90, 130, 190]);
    let m = t.get(&key()).unwrap();
    assert!(m.frozen());
    assert_eq!(m.moves(), 5);
    assert_eq!(
        events.last(),
        Some(&Event::DuplicateMac {
            key: key(),
            moves: 5
        })
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::DuplicateMac { .. }))
            .count(),
        1
    );
    // After move 4 (a local learn at seq 4) we advertised seq 4; move 5 (remote seq 5)
    // would have withdrawn it: frozen keeps it.
    assert_eq!(t.advertised(&key()), adv(4, false));
    assert_eq!(t.duplicates().count(), 1);
}

#[test]
fn dad_frozen_ignores_changes_until_cleared() {
    let (mut t, _) = bounce(&[10, 50, 90, 130, 190]);
    let mut events = vec![];
    t.remote_changed(
        key(),
        remote("10.0.0.2", 50, false),
        ip(US),
        s(200),
        &mut events,
    );
    t.local_learned(
        key(),
        false,
        remote("10.0.0.2", 50, false),
        ip(US),
        s(201),
        &mut events,
    );
    assert!(events.is_empty());
    assert_eq!(t.advertised(&key()), adv(4, false));
    // Clearing decides afresh: the remote route has the higher sequence, so it wins.
    assert!(t.clear(
        key(),
        remote("10.0.0.2", 50, false),
        ip(US),
        s(300),
        &mut events
    ));
    assert!(!t.get(&key()).unwrap().frozen());
    assert_eq!(t.get(&key()).unwrap().moves(), 0, "a clear is not a move");
    assert_eq!(t.advertised(&key()), None);
    assert_eq!(events, vec![moved("10.0.0.2", 50, false)]);
    // The host shows up here again: counted and acted on normally.
    t.local_learned(
        key(),
        false,
        remote("10.0.0.2", 50, false),
        ip(US),
        s(301),
        &mut events,
    );
    assert_eq!(t.advertised(&key()), adv(51, false));
    assert_eq!(t.get(&key()).unwrap().moves(), 1);
    // Clearing a MAC that is not frozen reports so.
    assert!(!t.clear(key(), None, ip(US), s(302), &mut events));
}

#[test]
fn dad_not_when_moves_are_spread_out() {
    // Ten moves, 60 s apart: never five within 180 s.
    let times: Vec<u64> = (1..=10).map(|i| i * 60).collect();
    let (t, events) = bounce(&times);
    assert!(!t.get(&key()).unwrap().frozen());
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::DuplicateMac { .. })));
    // Every move was acted on: 5 moved-away events (odd moves are remote wins).
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::MacMovedAway { .. }))
            .count(),
        5
    );
}

#[test]
fn dad_disabled_never_freezes() {
    let mut t = MobilityTable::new(DadConfig {
        enabled: false,
        ..DadConfig::default()
    });
    let mut events = vec![];
    t.local_learned(key(), false, None, ip(US), s(0), &mut events);
    for i in 1..20u32 {
        t.remote_changed(
            key(),
            remote("10.0.0.2", 2 * i, false),
            ip(US),
            s(u64::from(i)),
            &mut events,
        );
        t.local_learned(
            key(),
            false,
            remote("10.0.0.2", 2 * i, false),
            ip(US),
            s(u64::from(i)),
            &mut events,
        );
    }
    assert!(!t.get(&key()).unwrap().frozen());
    assert_eq!(t.advertised(&key()), adv(39, false));
}

#[test]
fn removal_withdraws_even_when_frozen_and_prune_forgets() {
    let (mut t, _) = bounce(&[10, 50, 90, 130, 190]);
    t.local_removed(key(), s(200));
    assert_eq!(t.advertised(&key()), None);
    assert!(
        t.get(&key()).unwrap().frozen(),
        "still reported as duplicate"
    );
    // A MAC with no moves is forgotten at once when removed.
    let other = fk(100, "02:00:00:00:00:02");
    let mut events = vec![];
    t.local_learned(other, false, None, ip(US), s(0), &mut events);
    t.local_removed(other, s(1));
    assert!(t.get(&other).is_none());
    // One with recent moves is kept until its window passes.
    let third = fk(100, "02:00:00:00:00:03");
    t.local_learned(
        third,
        false,
        remote("10.0.0.2", 0, false),
        ip(US),
        s(0),
        &mut events,
    );
    t.local_removed(third, s(10));
    assert!(t.get(&third).is_some());
    t.prune(s(100));
    assert!(t.get(&third).is_some());
    t.prune(s(181));
    assert!(t.get(&third).is_none());
}
