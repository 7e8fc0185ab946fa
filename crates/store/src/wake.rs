//! Wake-ups for idle workers: a signal that the run queue changed (a run was queued, released,
//! requeued, or a running run ended and may have unblocked a queued one), so a "run now" starts
//! at once instead of at the next poll.
//!
//! The signal is a hint, never the only path: workers keep polling, because a wake-up can be
//! missed (a notification sent while the listening connection was down, or a change made by
//! another process on SQLite, which has no notifications).

use std::time::Duration;

use tokio::sync::watch;

/// The sending side, kept by a store; every change bumps a counter.
#[derive(Debug, Clone)]
pub(crate) struct WakeSender(watch::Sender<u64>);

impl WakeSender {
    pub(crate) fn new() -> WakeSender {
        WakeSender(watch::Sender::new(0))
    }

    pub(crate) fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> WakeUps {
        WakeUps(self.0.subscribe())
    }

    /// Whether no worker listens any more (the PostgreSQL listener then stops).
    pub(crate) fn is_unheard(&self) -> bool {
        self.0.receiver_count() == 0
    }
}

/// A worker's end of the signal.
#[derive(Debug, Clone)]
pub struct WakeUps(watch::Receiver<u64>);

impl WakeUps {
    /// Waits until the queue changes or `poll` passes, whichever comes first; `true` when woken.
    pub async fn wait(&mut self, poll: Duration) -> bool {
        matches!(
            tokio::time::timeout(poll, self.0.changed()).await,
            Ok(Ok(()))
        )
    }

    /// Forgets changes seen so far, so the next [`WakeUps::wait`] waits for a new one.
    pub fn mark_seen(&mut self) {
        self.0.mark_unchanged();
    }
}
