//! Per-tenant rate limits: a token bucket per tenant, in each replica's memory. With N replicas behind a
//! balancer a tenant gets up to N times the rate; the limit protects each replica's database connections and
//! the bundler from one tenant's burst, not a billing quota (which belongs in the database).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug)]
pub(crate) struct RateLimits {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimits {
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `tenant`'s bucket at `now`, or says how long until one is there.
    pub(crate) fn take(&self, tenant: i64, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(tenant).or_insert(Bucket { tokens: self.burst, at: now });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }
}

/// How many sends of one replica may be under way for one account: those holding its lanes and those waiting
/// for one. Past that a send is turned away at once (503) instead of polling the database for a lane, so one
/// tenant's burst cannot tie up the replica's connections.
#[derive(Debug)]
pub(crate) struct SendsPerAccount {
    most: usize,
    accounts: Mutex<HashMap<alloy::primitives::Address, std::sync::Arc<tokio::sync::Semaphore>>>,
}

impl SendsPerAccount {
    pub(crate) fn new(most: usize) -> Self {
        Self { most, accounts: Mutex::new(HashMap::new()) }
    }

    /// A place among the account's sends, held until dropped; `None` when all are taken.
    pub(crate) fn enter(
        &self,
        account: alloy::primitives::Address,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let semaphore = {
            let mut accounts =
                self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            accounts
                .entry(account)
                .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(self.most)))
                .clone()
        };
        semaphore.try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_takes_so_many_sends_at_once_and_others_are_untouched() {
        let sends = SendsPerAccount::new(2);
        let (one, two) = (
            alloy::primitives::Address::repeat_byte(1),
            alloy::primitives::Address::repeat_byte(2),
        );
        let first = sends.enter(one).unwrap();
        let _second = sends.enter(one).unwrap();
        assert!(sends.enter(one).is_none());
        assert!(sends.enter(two).is_some());
        drop(first);
        assert!(sends.enter(one).is_some(), "a place is given back when its send ends");
    }

    #[test]
    fn a_tenant_gets_its_burst_then_its_rate_and_others_are_untouched() {
        let limits = RateLimits::new(10, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limits.take(1, start).is_ok());
        }
        let wait = limits.take(1, start).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO, "{wait:?}");
        // Another tenant has its own bucket.
        assert!(limits.take(2, start).is_ok());
        // A tenth of a second later, one more request.
        let later = start + Duration::from_millis(100);
        assert!(limits.take(1, later).is_ok());
        assert!(limits.take(1, later).is_err());
    }
}
