//! Guessing passwords through the login form: failures are counted per account and per client
//! address, and past a few of them every further try waits longer (429 with `Retry-After`);
//! password verifications (argon2id, 19 MiB each) run a few at a time, so a flood of logins
//! cannot exhaust memory; an unknown user costs the same verification as a known one, so the
//! answer's timing does not tell which names exist.
//!
//! The counts live in the process: with several `tentacle serve` processes behind one address,
//! each counts on its own, which multiplies an attacker's budget by the number of processes but
//! keeps it bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use argon2::Block;

use crate::users::{hash_password, verify_password_in};

/// Failures an account may have before it has to wait.
const ACCOUNT_FREE_FAILURES: u32 = 5;
/// Failures one client address may have (over all the names it tries) before it has to wait:
/// more than an account's, as several people may share an office's address.
const ADDRESS_FREE_FAILURES: u32 = 20;
/// The longest wait: the delay doubles with every failure past the free ones up to this.
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Accounts and addresses tracked at once; past it, the oldest are forgotten first, so a flood
/// of made-up names cannot grow the table without bound.
const MAX_TRACKED: usize = 10_000;
/// Password verifications at once: argon2id with the default parameters takes 19 MiB and most
/// of a core for ~20 ms; more at once would only queue on the cores while holding memory.
const VERIFICATIONS_AT_ONCE: usize = 4;
/// How long a login waits for a verification slot before the answer is "busy".
const VERIFICATION_QUEUE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    wait_until: Instant,
}

/// Why a login attempt was not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too many failures for the account or the address: try again after this long.
    Wait(Duration),
    /// Every verification slot stayed busy.
    Busy,
}

pub(crate) struct LoginGuard {
    failures: Mutex<HashMap<Key, Failures>>,
    verifications: Semaphore,
    /// The argon2 memory of each verification slot, reused (see
    /// [`crate::users::verify_password_in`]): at most [`VERIFICATIONS_AT_ONCE`] × 19 MiB.
    memory: Mutex<Vec<Vec<Block>>>,
    /// A hash of a random password: unknown users are verified against it.
    decoy: OnceLock<String>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            failures: Mutex::new(HashMap::new()),
            verifications: Semaphore::new(VERIFICATIONS_AT_ONCE),
            memory: Mutex::new(Vec::new()),
            decoy: OnceLock::new(),
        }
    }
}

fn account_key(name: &str) -> Key {
    // Names are short; a long one is not a name and must not cost memory.
    Key::Account(name.chars().take(100).collect())
}

impl LoginGuard {
    /// Whether `name` from `address` may try now; `Err` with the time left when not.
    pub(crate) fn admit(&self, name: &str, address: Option<IpAddr>) -> Result<(), Refusal> {
        let now = Instant::now();
        let failures = self.lock();
        let wait = self
            .keys(name, address)
            .iter()
            .filter_map(|key| failures.get(key))
            .filter(|f| now.duration_since(f.last) < FORGET_AFTER)
            .map(|f| f.wait_until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(Refusal::Wait(wait))
        }
    }

    /// Whether `password` is right for the stored hash (`None`: no such user, verified against
    /// the decoy all the same), with at most [`VERIFICATIONS_AT_ONCE`] verifications at a time.
    pub(crate) async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<bool, Refusal> {
        let _slot = tokio::time::timeout(VERIFICATION_QUEUE_WAIT, self.verifications.acquire())
            .await
            .map_err(|_| Refusal::Busy)?
            .map_err(|_| Refusal::Busy)?;
        let known = stored.is_some();
        let hash = match stored {
            Some(hash) => hash,
            None => self.decoy_hash().await?,
        };
        let password = password.to_string();
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let (matches, memory) = tokio::task::spawn_blocking(move || {
            let matches = verify_password_in(&password, &hash, &mut memory);
            (matches, memory)
        })
        .await
        .unwrap_or_default();
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(memory);
        Ok(known && matches)
    }

    /// Counts a failed login of `name` from `address`.
    pub(crate) fn failed(&self, name: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let keys = self.keys(name, address);
        let mut failures = self.lock();
        if failures.len() + keys.len() > MAX_TRACKED {
            forget_oldest(&mut failures, now);
        }
        for key in keys {
            let free = match key {
                Key::Account(_) => ACCOUNT_FREE_FAILURES,
                Key::Address(_) => ADDRESS_FREE_FAILURES,
            };
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
                wait_until: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count > free {
                entry.wait_until = now + wait_after(entry.count - free);
            }
        }
    }

    /// A successful login clears the account's and the address's failures.
    pub(crate) fn succeeded(&self, name: &str, address: Option<IpAddr>) {
        let keys = self.keys(name, address);
        let mut failures = self.lock();
        for key in keys {
            failures.remove(&key);
        }
    }

    fn keys(&self, name: &str, address: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![account_key(name)];
        keys.extend(address.map(Key::Address));
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // The table holds counts only; one poisoned by a panic elsewhere is still right.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn decoy_hash(&self) -> Result<String, Refusal> {
        if let Some(hash) = self.decoy.get() {
            return Ok(hash.clone());
        }
        let hash = tokio::task::spawn_blocking(|| {
            let password = crate::users::generate_password().ok()?;
            hash_password(&password).ok()
        })
        .await
        .ok()
        .flatten()
        .ok_or(Refusal::Busy)?;
        Ok(self.decoy.get_or_init(|| hash).clone())
    }
}

/// The wait after the `past_free`-th failure beyond the free ones: 1 s, 2 s, 4 s, … up to
/// [`LONGEST_WAIT`].
fn wait_after(past_free: u32) -> Duration {
    let seconds = 1u64 << (past_free - 1).min(20);
    Duration::from_secs(seconds).min(LONGEST_WAIT)
}

fn forget_oldest(failures: &mut HashMap<Key, Failures>, now: Instant) {
    failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
    if failures.len() >= MAX_TRACKED {
        // Those still made to wait are kept longest: a flood of made-up names must not free
        // the account it is guessing.
        let mut by_age: Vec<(Key, bool, Instant)> = failures
            .iter()
            .map(|(k, f)| (k.clone(), f.wait_until > now, f.last))
            .collect();
        by_age.sort_by_key(|(_, waiting, last)| (*waiting, *last));
        for (key, _, _) in by_age.into_iter().take(MAX_TRACKED / 2) {
            failures.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_past_the_free_failures_up_to_a_quarter_hour() {
        assert_eq!(wait_after(1), Duration::from_secs(1));
        assert_eq!(wait_after(2), Duration::from_secs(2));
        assert_eq!(wait_after(5), Duration::from_secs(16));
        assert_eq!(wait_after(40), LONGEST_WAIT);
    }

    #[test]
    fn an_account_waits_after_its_free_failures_and_a_success_clears_them() {
        let guard = LoginGuard::default();
        let address: Option<IpAddr> = "10.0.0.7".parse().ok();
        for _ in 0..ACCOUNT_FREE_FAILURES {
            assert_eq!(guard.admit("admin", address), Ok(()));
            guard.failed("admin", address);
        }
        assert_eq!(guard.admit("admin", address), Ok(()));
        guard.failed("admin", address);
        assert!(
            matches!(guard.admit("admin", address), Err(Refusal::Wait(w)) if w <= Duration::from_secs(1) && !w.is_zero())
        );
        // Another name from the same address still may: the address has its own, larger budget.
        assert_eq!(guard.admit("operator", address), Ok(()));
        guard.succeeded("admin", address);
        assert_eq!(guard.admit("admin", address), Ok(()));
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_names() {
        let guard = LoginGuard::default();
        for i in 0..(MAX_TRACKED * 2) {
            guard.failed(&format!("name{i}"), None);
        }
        assert!(guard.lock().len() <= MAX_TRACKED);
    }
}
