//! The reports the service keeps for a bounded time and count, in memory only: nothing a
//! client sends or gets back is written to disk.

use crate::app::clinical_report::Rendered;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Kept reports, oldest first.
pub struct Store {
    items: VecDeque<(String, Instant, Rendered)>,
    /// At most this many reports are kept (the oldest goes first).
    pub max_count: usize,
    /// A report is dropped this long after it was made.
    pub max_age: Duration,
}

impl Store {
    /// An empty store.
    pub fn new(max_count: usize, max_age: Duration) -> Store {
        Store {
            items: VecDeque::new(),
            max_count,
            max_age,
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        while let Some((_, at, _)) = self.items.front() {
            if now.duration_since(*at) > self.max_age || self.items.len() > self.max_count {
                self.items.pop_front();
            } else {
                break;
            }
        }
    }

    /// Keeps `report` under `id`; returns false when reports are not kept (`max_count` 0).
    pub fn put(&mut self, id: String, report: Rendered) -> bool {
        if self.max_count == 0 {
            return false;
        }
        self.items.push_back((id, Instant::now(), report));
        self.expire();
        true
    }

    /// The report `id`, while it is kept.
    pub fn get(&mut self, id: &str) -> Option<&Rendered> {
        self.expire();
        self.items
            .iter()
            .find(|(k, _, _)| k == id)
            .map(|(_, _, r)| r)
    }

    /// Reports kept now.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// A new report id: 128 random bits from the operating system, hex. Ids are the only key to a
/// report (they are not guessable), so they are never made from a counter or the time alone.
pub fn new_id() -> std::io::Result<String> {
    Ok(format!("{:032x}", random_u128()?))
}

/// 128 random bits from the operating system.
pub fn random_u128() -> std::io::Result<u128> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(u128::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(tag: &str) -> Rendered {
        Rendered {
            headline: tag.into(),
            html: String::new(),
            pdf: Vec::new(),
            overview_png: Vec::new(),
            chart_svg: None,
        }
    }

    #[test]
    fn keeps_at_most_the_count_and_drops_the_oldest() {
        let mut s = Store::new(2, Duration::from_secs(3600));
        for k in 0..3 {
            assert!(s.put(format!("id{k}"), rendered(&k.to_string())));
        }
        assert_eq!(s.len(), 2);
        assert!(s.get("id0").is_none());
        assert_eq!(s.get("id2").unwrap().headline, "2");
    }

    #[test]
    fn drops_reports_past_their_age_and_keeps_none_at_count_zero() {
        let mut s = Store::new(5, Duration::from_millis(0));
        s.put("a".into(), rendered("a"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.get("a").is_none());
        let mut none = Store::new(0, Duration::from_secs(60));
        assert!(!none.put("a".into(), rendered("a")));
    }

    #[test]
    fn ids_are_128_bit_hex_and_differ() {
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
