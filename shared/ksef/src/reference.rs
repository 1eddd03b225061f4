//! KSeF reference numbers (36 chars, `20250625-SO-2C3E6C8000-B675CF5D68-07`) as the stand-ins
//! issue them: day, tag (CR, AU, SO, EE, EU, …), two random 10-hex parts, a check pair.

use chrono::NaiveDate;
use rand::Rng;

pub fn reference(tag: &str, day: NaiveDate) -> String {
    let mut rng = rand::thread_rng();
    let a: u64 = rng.gen::<u64>() & 0xFF_FFFF_FFFF;
    let b: u64 = rng.gen::<u64>() & 0xFF_FFFF_FFFF;
    let head = format!("{}-{tag}-{a:010X}-{b:010X}", day.format("%Y%m%d"));
    let check = crate::number::crc8(head.as_bytes());
    format!("{head}-{check:02X}")
}

/// Today in Poland, the day KSeF numbers and references carry.
pub fn today_in_poland() -> NaiveDate {
    renewals_domain::business_date(chrono::Utc::now())
}
