//! KOD I: the verification link of an invoice sent online, printed as a QR code with the
//! KSeF number under it (handbook, ksef/API.md §4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// `{qr_base}/invoice/{seller NIP}/{P_1 as DD-MM-YYYY}/{base64url(SHA-256(xml)), no padding}`,
/// over the XML bytes exactly as sent.
pub fn kod_i_url(qr_base: &str, seller_nip: &str, issue_date: NaiveDate, xml: &[u8]) -> String {
    format!(
        "{}/invoice/{}/{}/{}",
        qr_base.trim_end_matches('/'),
        seller_nip,
        issue_date.format("%d-%m-%Y"),
        URL_SAFE_NO_PAD.encode(Sha256::digest(xml))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kod_i_names_the_seller_the_issue_day_and_the_hash_of_the_bytes() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        // SHA-256("abc") = ba7816bf…15ad; base64url without padding, by hand from the digest.
        let url = kod_i_url("https://qr-test.ksef.mf.gov.pl/", "1111111111", day, b"abc");
        assert_eq!(
            url,
            "https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
