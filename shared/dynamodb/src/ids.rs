//! Outbox message ids, made in memory: no request, no shared counter.
//!
//! An id is the microseconds since the epoch × 1024 plus a per-process sequence mod 1024,
//! raised where needed to one more than the last id this process made. Hence:
//!
//! - Ids are unique and strictly increasing within a process, even if the clock steps
//!   back or more than 1024 ids fall in one microsecond.
//! - Across processes they are roughly time-ordered (as far as the clocks agree), which is
//!   all `unsent` needs: it hands out the oldest first, not a strict global order.
//! - Across processes they are unique in practice: two processes produce the same id only
//!   in the same microsecond and on the same sequence slot, and each process starts its
//!   sequence at a random slot. The message item is still claimed with
//!   `attribute_not_exists`, so a collision within a tenant's partition is a `Conflict`
//!   (the service retries with a fresh id), never an overwrite.
//! - Gaps are fine: nothing counts on consecutive ids (a cancelled commit skips its ids).
//! - They stay positive `i64`s until about the year 2255 (`i64::MAX / 1024` µs after 1970),
//!   and they are far above the ids the old outbox counter handed out, so messages queued
//!   before this scheme still sort first.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Ids per microsecond: the sequence's share of an id.
const SLOTS: i64 = 1024;

/// The last id this process made (0 = none yet).
static LAST: AtomicI64 = AtomicI64::new(0);
/// The per-process sequence, started at a random slot.
static SEQUENCE: OnceLock<AtomicU64> = OnceLock::new();

/// A new outbox message id (> 0), without a request.
pub(crate) fn next_message_id() -> i64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    next_id(micros)
}

fn next_id(micros: i64) -> i64 {
    let sequence = SEQUENCE
        .get_or_init(|| AtomicU64::new(random_start()))
        .fetch_add(1, Ordering::Relaxed);
    let slot = (sequence % SLOTS as u64) as i64;
    let candidate = micros.max(0).saturating_mul(SLOTS).saturating_add(slot);
    // Never at or below an id already made here: unique and increasing within the process.
    let previous = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(candidate.max(last + 1))
        })
        .unwrap_or_else(|last| last);
    candidate.max(previous + 1)
}

/// A random sequence start, so that two processes seldom share a slot: std's `RandomState`
/// is seeded from the operating system's randomness.
fn random_start() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_increase_and_follow_the_clock() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let ids: Vec<i64> = (0..5000).map(|_| next_message_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(ids[0] > 0);
        // The microseconds part is the time the id was made (give or take the slots that
        // 5000 ids in a few microseconds borrow from the next ones).
        let first_micros = ids[0] / SLOTS;
        assert!(first_micros >= before - 1, "{first_micros} < {before}");
        assert!(first_micros < before + 10_000_000, "{first_micros}");
    }

    #[test]
    fn a_clock_that_steps_back_repeats_nothing() {
        // A millisecond ahead, then a second back: tests share the process's last id.
        let now = next_message_id() / SLOTS;
        let late = next_id(now + 1_000);
        let early = next_id(now - 1_000_000);
        assert!(early > late);
    }

    #[test]
    fn threads_get_distinct_ids() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..2000).map(|_| next_message_id()).collect()))
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            let ids: Vec<i64> = t.join().unwrap();
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            for id in ids {
                assert!(seen.insert(id), "id {id} made twice");
            }
        }
    }
}
