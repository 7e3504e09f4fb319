//! Requests per client certificate: a token bucket per certificate (its SHA-256 thumbprint),
//! holding up to a minute's allowance and refilled continuously. It caps what any one
//! certificate holder can make the node do (read, parse, log), token or not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before idle (full) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The per-certificate limiter; `per_minute == 0` turns it off.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests a minute per certificate, in bursts of up to as
    /// many; 0 allows everything.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The configured allowance per minute.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request from `certificate`'s allowance at `now`; false when it is used up.
    pub fn allow(&self, certificate: &[u8; 32], now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(*certificate).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refilled).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_minutes_allowance_then_one_more_per_refill_and_each_certificate_apart() {
        let limiter = RateLimiter::new(3);
        let start = Instant::now();
        let (a, b) = ([1; 32], [2; 32]);
        let taken: Vec<bool> = (0..4).map(|_| limiter.allow(&a, start)).collect();
        assert_eq!(taken, [true, true, true, false]);
        assert!(limiter.allow(&b, start), "another certificate has its own");
        // 3 a minute: one request comes back every 20 seconds; after 40 seconds, two.
        assert!(!limiter.allow(&a, start + Duration::from_secs(19)));
        let later = start + Duration::from_secs(40);
        let taken: Vec<bool> = (0..3).map(|_| limiter.allow(&a, later)).collect();
        assert_eq!(taken, [true, true, false]);
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(0);
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.allow(&[0; 32], now)));
    }
}
