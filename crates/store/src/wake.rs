//! Wake-ups for idle workers: a signal that the run queue changed (a run was queued, released,
//! requeued, or a running run ended and may have unblocked a queued one), so a "run now" starts
//! at once instead of at the next poll.
//!
//! Each change wakes **one** idle worker loop of the process (not all of them): with many
//! processes of several loops each, waking every loop for every change would turn each finished
//! run into dozens of claim queries that find nothing. A loop that claims a run passes the
//! wake-up on ([`WakeUps::pass_on`]), so when several runs became claimable at once the idle
//! loops start one after the other.
//!
//! The signal is a hint, never the only path: workers keep polling, because a wake-up can be
//! missed (a notification sent while the listening connection was down, or a change made by
//! another process on SQLite, which has no notifications).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// The sending side, kept by a store.
#[derive(Debug, Clone)]
pub(crate) struct WakeSender {
    notify: Arc<Notify>,
    /// How many [`WakeUps`] exist: the PostgreSQL listener stops when none does.
    subscribers: Arc<AtomicUsize>,
}

impl WakeSender {
    pub(crate) fn new() -> WakeSender {
        WakeSender {
            notify: Arc::new(Notify::new()),
            subscribers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Wakes one waiting loop, or the next one to wait when none is waiting.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    pub(crate) fn subscribe(&self) -> WakeUps {
        self.subscribers.fetch_add(1, Ordering::SeqCst);
        WakeUps {
            notify: self.notify.clone(),
            subscribers: self.subscribers.clone(),
        }
    }

    /// Whether no worker listens any more.
    pub(crate) fn is_unheard(&self) -> bool {
        self.subscribers.load(Ordering::SeqCst) == 0
    }
}

/// A worker loop's end of the signal.
#[derive(Debug)]
pub struct WakeUps {
    notify: Arc<Notify>,
    subscribers: Arc<AtomicUsize>,
}

impl WakeUps {
    /// Waits until the queue changes or `poll` passes, whichever comes first; `true` when woken.
    /// A change made while nobody waited is not lost: the next wait returns at once.
    pub async fn wait(&mut self, poll: Duration) -> bool {
        tokio::time::timeout(poll, self.notify.notified())
            .await
            .is_ok()
    }

    /// Forgets a change that arrived while nobody waited, so the next [`WakeUps::wait`] waits
    /// for a new one.
    pub fn mark_seen(&mut self) {
        // Polling a `notified()` once takes a stored wake-up, if there is one.
        poll_once(self.notify.notified());
    }

    /// Hands the wake-up on to another idle loop of this process: this one found work, so
    /// there may be more.
    pub fn pass_on(&self) {
        self.notify.notify_one();
    }
}

/// Polls `future` once and drops it.
fn poll_once<F: std::future::Future>(future: F) {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    let _ = future.as_mut().poll(&mut context);
}

impl Clone for WakeUps {
    fn clone(&self) -> Self {
        self.subscribers.fetch_add(1, Ordering::SeqCst);
        WakeUps {
            notify: self.notify.clone(),
            subscribers: self.subscribers.clone(),
        }
    }
}

impl Drop for WakeUps {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, Ordering::SeqCst);
    }
}
