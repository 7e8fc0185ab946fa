//! A run's log and counters while it works: entries reach an observer at once (the CLI prints
//! them as they happen) and the store in batches, with the counters and what the run spent of
//! the external APIs, so a run in progress shows live numbers.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use tentacle_domain::run::{ApiUsage, LogEntry, RecordRef, RunCounters};
use tentacle_store::{Lease, NewLogEntry, Store, StoreError};

/// Called with every entry as it is recorded.
pub type Observer = Arc<dyn Fn(&LogEntry) + Send + Sync>;

/// Reads what the run's API clients have spent so far.
pub type UsageSource = Box<dyn Fn() -> ApiUsage + Send + Sync>;

/// Entries the run's API clients have to say since they were last asked (Shopify's deprecation
/// notices).
pub type NoticeSource = Box<dyn Fn() -> Vec<LogEntry> + Send + Sync>;

pub struct RunLog {
    lease: Lease,
    store: Arc<dyn Store>,
    observer: Option<Observer>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: Vec<NewLogEntry>,
    counters: RunCounters,
    usage: Option<UsageSource>,
    notices: Option<NoticeSource>,
    /// Usage already added to the store.
    reported: ApiUsage,
}

impl RunLog {
    /// A log that writes under `lease` (a run whose lease is lost fails to flush and stops),
    /// counting on from `counters` (a resumed run keeps what it counted before).
    pub fn new(
        lease: Lease,
        counters: RunCounters,
        store: Arc<dyn Store>,
        observer: Option<Observer>,
    ) -> RunLog {
        RunLog {
            lease,
            store,
            observer,
            inner: Mutex::new(Inner {
                counters,
                ..Inner::default()
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Only plain data is behind the lock; a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run's lease: every write the run makes goes through it.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    pub fn record(&self, entry: LogEntry) {
        if let Some(observer) = &self.observer {
            observer(&entry);
        }
        // Stored with the kind's name, the same text an attention flag of the record keeps.
        let (record_kind, record) = match &entry.record {
            Some(record @ (RecordRef::Order(label) | RecordRef::Sku(label))) => (
                Some(record.kind().as_str().to_string()),
                Some(label.clone()),
            ),
            None => (None, None),
        };
        self.inner().pending.push(NewLogEntry {
            at: Utc::now(),
            level: entry.level,
            record_kind,
            record,
            message: entry.message,
        });
    }

    pub fn count(&self, change: impl FnOnce(&mut RunCounters)) {
        change(&mut self.inner().counters);
    }

    pub fn counters(&self) -> RunCounters {
        self.inner().counters
    }

    /// Records what the notice source has to say (see [`RunLog::track_notices`]).
    pub fn collect_notices(&self) {
        let notices = self.inner().notices.as_ref().map(|source| source());
        for entry in notices.into_iter().flatten() {
            self.record(entry);
        }
    }

    /// Reports what `source` has to say with every flush, and when the run's work ends.
    pub fn track_notices(&self, source: NoticeSource) {
        self.inner().notices = Some(source);
    }

    /// Writes the entries recorded since the last flush and the counters so far.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.collect_notices();
        let (pending, counters, usage) = {
            let mut inner = self.inner();
            let usage = inner.usage.as_ref().map(|source| source());
            (std::mem::take(&mut inner.pending), inner.counters, usage)
        };
        if !pending.is_empty()
            && let Err(error) = self.store.append_logs(&self.lease, &pending).await
        {
            // Kept for the next flush: after a database hiccup the entries still land, in order.
            self.inner().pending.splice(0..0, pending);
            return Err(error);
        }
        self.store
            .update_run_counters(&self.lease, &counters)
            .await?;
        if let Some(usage) = usage {
            // Increments, so a resumed run adds to what its first worker spent.
            let spent = usage.since(&self.inner().reported);
            if spent != ApiUsage::default() {
                self.store.add_run_usage(&self.lease, &spent).await?;
                self.inner().reported = usage;
            }
        }
        Ok(())
    }

    /// Reports what `source` says the run's API clients spent with every flush.
    pub fn track_usage(&self, source: UsageSource) {
        self.inner().usage = Some(source);
    }
}
