//! Alert delivery: the messages queued in the outbox where runs end (see
//! [`tentacle_store::AlertStore`]) are claimed under a lease, sent by webhook or email, and
//! marked delivered, or retried later with a growing delay. Every `serve` and `worker` runs
//! [`alerting`]; `tentacle run` calls [`deliver_run`] before it exits. The periodic stale check
//! lives here too.
//!
//! Delivery is at least once: a process that dies after the receiver accepted a message but
//! before marking it delivered leaves it to be sent again once its lease expires. Each message
//! carries its outbox id (the webhook's `id`, the email's `Message-ID`) so a receiver can tell
//! the repeat.

mod email;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tentacle_domain::alerts::{AlertEvent, ChannelTarget, IncidentKind};
use tentacle_domain::messages::test_alert_message;
use tentacle_store::{AlertChannel, AlertClaim, AlertDelivery, Store};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::error::EngineError;

/// How long a claimed message is this process's: longer than the slowest send (the SMTP
/// timeout), so a live deliverer never loses a message it is sending.
pub const DELIVERY_LEASE: Duration = Duration::from_secs(120);
/// How long one send may take before it counts as failed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// How often every `serve` and `worker` looks for configurations gone stale.
pub const STALE_CHECK_EVERY: Duration = Duration::from_secs(60);
/// The first retry waits this long, each next one twice as long, up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(30);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// Messages claimed at once.
const BATCH: i64 = 20;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The outbox id (none for a test message).
    pub id: Option<i64>,
    pub integration: Option<String>,
    pub kind: Option<IncidentKind>,
    pub event: AlertEvent,
    pub run_id: Option<i64>,
    pub subject: String,
    pub text: String,
}

impl From<&AlertDelivery> for Outgoing {
    fn from(delivery: &AlertDelivery) -> Self {
        let record = &delivery.record;
        Outgoing {
            id: Some(record.id),
            integration: Some(record.integration_name.clone()),
            kind: Some(record.kind),
            event: record.event,
            run_id: record.run_id,
            subject: record.subject.clone(),
            text: record.text.clone(),
        }
    }
}

/// Sends one message through the channel; the error says why in words, without a secret.
pub async fn send(channel: &AlertChannel, message: &Outgoing) -> Result<(), String> {
    let sent = match &channel.target {
        ChannelTarget::Webhook { url } => {
            tokio::time::timeout(SEND_TIMEOUT, webhook::post(url, message)).await
        }
        ChannelTarget::Email { .. } => {
            tokio::time::timeout(SEND_TIMEOUT, email::send(channel, message)).await
        }
    };
    sent.unwrap_or_else(|_| {
        Err(format!(
            "no answer within {} seconds",
            SEND_TIMEOUT.as_secs()
        ))
    })
}

/// "Send a test alert": sends a test message now, outside the outbox, and says how it went.
pub async fn send_test(channel: &AlertChannel) -> Result<(), String> {
    let message = test_alert_message(&channel.name);
    let outgoing = Outgoing {
        id: None,
        integration: None,
        kind: None,
        event: AlertEvent::Test,
        run_id: None,
        subject: message.subject,
        text: message.text,
    };
    let result = send(channel, &outgoing).await;
    match &result {
        Ok(()) => tracing::info!(channel = %channel.name, "Test alert sent."),
        Err(error) => tracing::warn!(channel = %channel.name, %error, "Test alert failed."),
    }
    result
}

/// How long to wait before the next attempt, after `attempts` failed ones.
pub fn retry_delay(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    FIRST_RETRY_DELAY
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY_DELAY)
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
}

/// Claims the due messages (only those of `run_id`, when given), sends each and marks it
/// delivered or failed with its next attempt time, until none is due.
pub async fn deliver_due(
    store: &dyn Store,
    clock: &dyn Clock,
    owner: &str,
    run_id: Option<i64>,
) -> Result<Delivered, EngineError> {
    let mut done = Delivered::default();
    loop {
        let now = clock.now();
        let claim = AlertClaim {
            owner: owner.to_string(),
            now,
            lease_until: now + delta(DELIVERY_LEASE),
            run_id,
            limit: BATCH,
        };
        let claimed = store.claim_alerts(&claim).await?;
        if claimed.is_empty() {
            return Ok(done);
        }
        for delivery in &claimed {
            let record = &delivery.record;
            match send(&delivery.channel, &Outgoing::from(delivery)).await {
                Ok(()) => {
                    store.alert_delivered(record.id, owner, clock.now()).await?;
                    done.sent += 1;
                    tracing::info!(
                        alert_id = record.id,
                        channel = %delivery.channel.name,
                        integration = %record.integration_name,
                        incident = %record.kind,
                        event = %record.event,
                        "Alert sent."
                    );
                }
                Err(error) => {
                    let wait = retry_delay(record.attempts);
                    let retry_at = clock.now() + delta(wait);
                    store
                        .alert_failed(record.id, owner, &error, retry_at)
                        .await?;
                    done.failed += 1;
                    tracing::warn!(
                        alert_id = record.id,
                        channel = %delivery.channel.name,
                        attempts = record.attempts,
                        retry_in = ?wait,
                        %error,
                        "Alert not delivered; it will be retried."
                    );
                }
            }
        }
        if done.failed > 0 && run_id.is_some() {
            // `tentacle run` does not wait for retries: serve and worker take them over.
            return Ok(done);
        }
    }
}

/// What `tentacle run` does before it exits: delivers the messages its run queued, waiting at
/// most `wait`; what could not be sent stays in the outbox for a `serve` or `worker`.
pub async fn deliver_run(
    store: &dyn Store,
    clock: &dyn Clock,
    run_id: i64,
    wait: Duration,
) -> Delivered {
    let owner = crate::runner::worker_id("run");
    match tokio::time::timeout(wait, deliver_due(store, clock, &owner, Some(run_id))).await {
        Ok(Ok(done)) => done,
        Ok(Err(error)) => {
            tracing::warn!(run_id, %error, "Delivering the run's alerts failed; a serve or worker will.");
            Delivered::default()
        }
        Err(_) => {
            tracing::warn!(
                run_id,
                ?wait,
                "Alerts not delivered in time; a serve or worker will."
            );
            Delivered::default()
        }
    }
}

/// Opens the incidents of configurations gone stale, and brings those of Shopify API versions
/// that end within 60 days in line (their messages go through the outbox).
pub async fn check_stale(store: &dyn Store, clock: &dyn Clock) -> Result<usize, EngineError> {
    let now = clock.now();
    let opened = store.open_stale_incidents(now).await?;
    if opened > 0 {
        tracing::warn!(
            opened,
            "Configurations without a successful run for too long."
        );
    }
    let due = api_versions_due(store, now.date_naive()).await?;
    let told = store.sync_api_version_incidents(now, &due).await?;
    if told > 0 {
        tracing::warn!(
            told,
            "Alerts about Shopify API versions that end soon (or that are fine again) queued."
        );
    }
    Ok(opened + told)
}

/// The configurations whose Shopify credential names an API version that ends within
/// 60 days or ended, with the credential's note.
async fn api_versions_due(
    store: &dyn Store,
    today: chrono::NaiveDate,
) -> Result<Vec<tentacle_store::ApiVersionDue>, EngineError> {
    let mut notes = std::collections::HashMap::new();
    for credential in store.credentials().await? {
        if let Some(note) = crate::connections::api_version_note(&credential, today) {
            notes.insert(
                credential.id,
                format!("credential \"{}\": {note}", credential.name),
            );
        }
    }
    Ok(store
        .integrations()
        .await?
        .into_iter()
        // Stopped ones too: they break the day they are started again.
        .filter_map(|i| {
            let note = notes
                .get(&i.origin_credential_id)
                .or_else(|| notes.get(&i.destination_credential_id))?;
            Some(tentacle_store::ApiVersionDue {
                integration_id: i.id,
                note: note.clone(),
            })
        })
        .collect())
}

/// The alert loop of every `serve` and `worker`: delivers due messages every `poll` and checks
/// for stale configurations every [`STALE_CHECK_EVERY`], until stopped. A delivery pass under
/// way when the process stops goes on through the grace period; `release` abandons it (its
/// messages go to another process once their lease expires).
pub async fn alerting(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    owner: String,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
    mut release: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let mut last_stale_check: Option<chrono::DateTime<chrono::Utc>> = None;
    while !*stop.borrow() {
        let now = clock.now();
        if last_stale_check.is_none_or(|at| now - at >= delta(STALE_CHECK_EVERY)) {
            last_stale_check = Some(now);
            if let Err(error) = check_stale(store.as_ref(), clock.as_ref()).await {
                tracing::warn!(%error, "Stale check failed.");
            }
        }
        tokio::select! {
            delivered = deliver_due(store.as_ref(), clock.as_ref(), &owner, None) => {
                if let Err(error) = delivered {
                    tracing::warn!(%error, "Alert delivery failed.");
                }
            }
            _ = release.wait_for(|release| *release) => return Ok(()),
        }
        let _ = tokio::time::timeout(poll, stop.changed()).await;
    }
    Ok(())
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(2), Duration::from_secs(60));
        assert_eq!(retry_delay(4), Duration::from_secs(240));
        assert_eq!(retry_delay(50), Duration::from_secs(3600));
    }
}
