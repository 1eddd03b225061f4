//! The KSeF number: 35 chars `NIP-YYYYMMDD-XXXXXXXXXXXX-CC`, where `CC` is the CRC-8
//! (polynomial 0x07, initial value 0x00) of the first 32 ASCII chars as two uppercase hex
//! digits. KSeF assigns it; we check what we receive and the stand-ins issue valid ones.

use chrono::NaiveDate;

/// CRC-8/SMBUS: polynomial 0x07, init 0x00, no reflection, no final XOR.
pub fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Builds a KSeF number from the seller's NIP, the day KSeF took the invoice in and a
/// 12-digit hex part (KSeF's own; the stand-ins draw it).
pub fn ksef_number(nip: &str, day: NaiveDate, part: u64) -> String {
    let head = format!(
        "{nip}-{}-{:012X}",
        day.format("%Y%m%d"),
        part & 0xFFFF_FFFF_FFFF
    );
    format!("{head}-{:02X}", crc8(head.as_bytes()))
}

/// Why a string is not a KSeF number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadKsefNumber {
    #[error("a KSeF number has 35 characters, `{0}` has {1}")]
    Length(String, usize),
    #[error("`{0}` is not shaped NIP-YYYYMMDD-XXXXXXXXXXXX-CC")]
    Shape(String),
    #[error("`{0}`: the checksum should be {1:02X}")]
    Checksum(String, u8),
}

/// Checks the shape and the CRC-8 of a 35-char KSeF number.
pub fn check_ksef_number(s: &str) -> Result<(), BadKsefNumber> {
    let len = s.chars().count();
    if len != 35 {
        return Err(BadKsefNumber::Length(s.to_string(), len));
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let hex = |r: std::ops::Range<usize>| {
        b[r].iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    };
    let shaped = digits(0..10)
        && b[10] == b'-'
        && digits(11..19)
        && NaiveDate::parse_from_str(&s[11..19], "%Y%m%d").is_ok()
        && b[19] == b'-'
        && hex(20..32)
        && b[32] == b'-'
        && hex(33..35);
    if !shaped {
        return Err(BadKsefNumber::Shape(s.to_string()));
    }
    let want = crc8(&b[..32]);
    if format!("{want:02X}") != s[33..35] {
        return Err(BadKsefNumber::Checksum(s.to_string(), want));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_of_crc8_smbus() {
        // The catalogue check value of CRC-8/SMBUS over "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
    }

    #[test]
    fn a_generated_number_passes_its_own_check() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let n = ksef_number("5260250274", day, 0x0100_ABCD_0042);
        assert_eq!(&n[..32], "5260250274-20260131-0100ABCD0042");
        assert_eq!(check_ksef_number(&n), Ok(()));
    }
}
