//! KSeF numbers: the examples of the KSeF documentation and OpenAPI pass the CRC-8 check;
//! a changed character or a wrong shape does not.

use renewals_ksef::number::{check_ksef_number, crc8, BadKsefNumber};

/// From `faktury/numer-ksef.md`, the OpenAPI 2.6 examples and the v4-3 UPO examples.
const OFFICIAL: [&str; 5] = [
    "5265877635-20250826-0100001AF629-AF",
    "5265877635-20250916-0200A0D6723E-C2",
    "5265877635-20250626-010080DD2B5E-26",
    "5265877635-20250925-010020A0A242-0A",
    "5555555555-20250828-010080615740-E4",
];

#[test]
fn the_official_examples_pass() {
    for n in OFFICIAL {
        assert_eq!(check_ksef_number(n), Ok(()), "{n}");
        let crc = crc8(&n.as_bytes()[..32]);
        assert_eq!(format!("{crc:02X}"), n[33..]);
    }
}

#[test]
fn a_changed_character_breaks_the_checksum() {
    let n = "5265877635-20250826-0100001AF629-AF";
    let changed = n.replacen("1AF629", "1AF628", 1);
    assert!(matches!(
        check_ksef_number(&changed),
        Err(BadKsefNumber::Checksum(_, _))
    ));
    let wrong_crc = n.replace("-AF", "-AE");
    assert!(matches!(
        check_ksef_number(&wrong_crc),
        Err(BadKsefNumber::Checksum(_, 0xAF))
    ));
}

#[test]
fn wrong_shapes_are_named() {
    assert!(matches!(
        check_ksef_number("5265877635-20250826-0100001AF629"),
        Err(BadKsefNumber::Length(_, 32))
    ));
    // Lowercase hex and a month 13 are not KSeF's.
    assert!(matches!(
        check_ksef_number("5265877635-20250826-0100001af629-AF"),
        Err(BadKsefNumber::Shape(_))
    ));
    assert!(matches!(
        check_ksef_number("5265877635-20251326-0100001AF629-AF"),
        Err(BadKsefNumber::Shape(_))
    ));
}
