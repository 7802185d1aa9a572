use super::*;

fn rt(s: &str) -> ExtendedCommunity {
    ExtendedCommunity::route_target(s.parse().unwrap())
}

/// (wire octets, decoded value, FRR display text)
fn known() -> Vec<([u8; 8], ExtendedCommunity, &'static str)> {
    vec![
        // From wire-notes.md: what FRR sends on type-2/3 routes.
        (
            [0x03, 0x0c, 0, 0, 0, 0, 0x00, 0x08],
            ExtendedCommunity::vxlan_encapsulation(),
            "ET:8",
        ),
        (
            [0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64],
            rt("65000:100"),
            "RT:65000:100",
        ),
        (
            [0x01, 0x02, 10, 0, 0, 1, 0x00, 0x05],
            rt("10.0.0.1:5"),
            "RT:10.0.0.1:5",
        ),
        (
            [0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x00, 0x05],
            rt("4200000000:5"),
            "RT:4200000000:5",
        ),
        (
            [0x06, 0x00, 0x01, 0x00, 0, 0, 0, 5],
            ExtendedCommunity::mac_mobility(5, true),
            "MM:5, sticky MAC",
        ),
        (
            [0x06, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04],
            ExtendedCommunity::mac_mobility(0x0102_0304, false),
            "MM:16909060",
        ),
        (
            [0x03, 0x0d, 0, 0, 0, 0, 0, 0],
            ExtendedCommunity::DefaultGateway,
            "Default Gateway",
        ),
        (
            [0x06, 0x03, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            ExtendedCommunity::RouterMac {
                mac: "aa:bb:cc:dd:ee:ff".parse().unwrap(),
            },
            "Rmac:aa:bb:cc:dd:ee:ff",
        ),
        (
            [0x06, 0x01, 0x01, 0, 0, 0x01, 0x00, 0x10],
            ExtendedCommunity::EsiLabel {
                flags: ESI_LABEL_SINGLE_ACTIVE,
                label: 0x01_0010,
            },
            "ESI-label-Rt:SA",
        ),
        (
            [0x06, 0x01, 0x00, 0, 0, 0, 0, 0],
            ExtendedCommunity::EsiLabel { flags: 0, label: 0 },
            "ESI-label-Rt:AA",
        ),
        // ES-Import route target (06 02) stays raw but prints as FRR names it.
        (
            [0x06, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            ExtendedCommunity::Raw {
                value: [0x06, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            },
            "ES-Import-Rt:aa:bb:cc:dd:ee:ff",
        ),
        // ND flags (06 08) is not typed: raw, printed in hex.
        (
            [0x06, 0x08, 0x01, 0, 0, 0, 0, 0],
            ExtendedCommunity::Raw {
                value: [0x06, 0x08, 0x01, 0, 0, 0, 0, 0],
            },
            "UNK:0x0608010000000000",
        ),
    ]
}

#[test]
fn known_communities_both_ways_and_display() {
    for (wire, value, text) in known() {
        assert_eq!(ExtendedCommunity::from_bytes(wire), value, "{wire:02x?}");
        assert_eq!(value.to_bytes(), wire, "{text}");
        assert_eq!(value.to_string(), text);
    }
}

#[test]
fn reserved_octets_set_stay_raw() {
    for wire in [
        [0x03, 0x0c, 0, 0, 1, 0, 0, 8],    // encapsulation, reserved octet 4
        [0x03, 0x0c, 0x80, 0, 0, 0, 0, 8], // encapsulation, reserved octet 2
        [0x03, 0x0d, 0, 0, 0, 0, 0, 1],    // default gateway with a value
        [0x06, 0x00, 0x01, 0x01, 0, 0, 0, 5], // MAC mobility, reserved octet
        [0x06, 0x01, 0x00, 0x00, 0x01, 0, 0, 5], // ESI label, reserved octet 4
        [0x06, 0x01, 0x00, 0x01, 0x00, 0, 0, 5], // ESI label, reserved octet 3
    ] {
        let c = ExtendedCommunity::from_bytes(wire);
        assert_eq!(c, ExtendedCommunity::Raw { value: wire }, "{wire:02x?}");
        assert_eq!(c.to_bytes(), wire);
    }
}

#[test]
fn non_transitive_route_target_forms_are_raw() {
    // 0x40/0x41/0x42 with subtype 2: only the transitive forms are typed.
    for t in [0x40u8, 0x41, 0x42] {
        let wire = [t, 0x02, 0, 1, 0, 0, 0, 1];
        let c = ExtendedCommunity::from_bytes(wire);
        assert_eq!(c, ExtendedCommunity::Raw { value: wire });
        assert!(!c.is_transitive());
    }
}

#[test]
fn transitivity() {
    for (wire, value, _) in known() {
        assert!(value.is_transitive(), "{wire:02x?}");
        assert_eq!(value.type_octet(), wire[0]);
    }
    assert!(ExtendedCommunity::from_bytes([0x80, 0x06, 0, 0, 0, 0, 0, 0]).is_transitive());
    assert!(!ExtendedCommunity::from_bytes([0x43, 0x00, 0, 0, 0, 0, 0, 0]).is_transitive());
}

#[test]
fn helpers() {
    let mm = ExtendedCommunity::mac_mobility(7, true);
    assert_eq!(mm.sticky(), Some(true));
    assert_eq!(mm.mac_mobility_sequence(), Some(7));
    assert_eq!(
        ExtendedCommunity::mac_mobility(7, false).sticky(),
        Some(false)
    );
    assert_eq!(ExtendedCommunity::DefaultGateway.sticky(), None);
    assert_eq!(
        rt("65000:100").as_route_target(),
        Some(RouteTarget::As2 {
            asn: 65000,
            value: 100
        })
    );
    assert_eq!(
        ExtendedCommunity::vxlan_encapsulation().as_route_target(),
        None
    );
}

#[test]
fn esi_label_wider_than_24_bits_is_masked() {
    let c = ExtendedCommunity::EsiLabel {
        flags: 0,
        label: 0x0100_0001,
    };
    assert_eq!(c.to_bytes(), [0x06, 0x01, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn every_byte_pattern_in_known_types_round_trips() {
    // Exhaustive over the type/subtype octets and a spread of values in the rest.
    for t in 0..=255u8 {
        for st in [0x00u8, 0x01, 0x02, 0x03, 0x0c, 0x0d, 0xff] {
            for fill in [0x00u8, 0x01, 0x80, 0xff] {
                for pos in 2..8 {
                    let mut wire = [t, st, 0, 0, 0, 0, 0, 0];
                    wire[pos] = fill;
                    let c = ExtendedCommunity::from_bytes(wire);
                    assert_eq!(c.to_bytes(), wire, "{wire:02x?} -> {c:?}");
                }
            }
        }
    }
}

#[test]
fn serde_json_form() {
    let json = serde_json::to_string(&rt("65000:100")).unwrap();
    assert_eq!(json, r#"{"type":"route_target","rt":"65000:100"}"#);
    let back: ExtendedCommunity = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rt("65000:100"));
}
