//! The texts of alerts: what happened to which configuration and what the operator should do,
//! with the run to open. Like every message, never a secret: a run's error is the text the run
//! already logged.

use crate::alerts::{AlertEvent, IncidentKind};
use crate::run::RunStatus;

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFacts<'a> {
    /// The configuration's name.
    pub integration: &'a str,
    pub kind: IncidentKind,
    pub event: AlertEvent,
    /// The run that opened or cleared the incident (none for a stale one opening).
    pub run_id: Option<i64>,
    /// How that run ended.
    pub status: Option<RunStatus>,
    /// Why the run failed.
    pub error: Option<&'a str>,
    /// Records of the configuration in conflict.
    pub conflicts: i64,
    /// The stale threshold.
    pub stale_after_hours: u32,
    /// What the incident is about in words, where the kind needs them (the API version note).
    pub detail: Option<&'a str>,
}

/// An alert's subject line and plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMessage {
    pub subject: String,
    pub text: String,
}

fn open_run(run_id: Option<i64>) -> String {
    match run_id {
        Some(id) => format!(
            " Open run {id} in tentacle (the run page /runs/{id}, or `tentacle logs {id}`) for its log."
        ),
        None => String::new(),
    }
}

/// The message of an incident opening or clearing.
pub fn alert_message(facts: &AlertFacts<'_>) -> AlertMessage {
    let name = facts.integration;
    let run = facts
        .run_id
        .map_or_else(String::new, |id| format!("run {id} "));
    let status = facts.status.map_or_else(String::new, |s| s.to_string());
    let (subject, text) = match (facts.kind, facts.event) {
        (IncidentKind::Failed, AlertEvent::Opened) => (
            format!("tentacle: {name} FAILED"),
            format!(
                "The {run}of \"{name}\" ended FAILED: {}.{} Fix what the log names; the \
                 configuration keeps running on its schedule. You get one more message when a \
                 run succeeds again, not one per failing run.",
                facts
                    .error
                    .unwrap_or("no reason recorded")
                    .trim_end_matches('.'),
                open_run(facts.run_id),
            ),
        ),
        (IncidentKind::Failed, _) => (
            format!("tentacle: {name} recovered"),
            format!(
                "The {run}of \"{name}\" ended {status}: the configuration works again after \
                 failing. Nothing to do.{}",
                open_run(facts.run_id),
            ),
        ),
        (IncidentKind::Conflicts, AlertEvent::Opened) => (
            format!("tentacle: {name} has records in conflict"),
            format!(
                "The {run}of \"{name}\" found records in conflict ({} in conflict now). tentacle \
                 did not change them: open Attention in tentacle, check each record in both \
                 systems and use Retry or Mark resolved. You get one more message when no record \
                 is in conflict any more.{}",
                facts.conflicts,
                open_run(facts.run_id),
            ),
        ),
        (IncidentKind::Conflicts, _) => (
            format!("tentacle: {name} conflicts resolved"),
            format!(
                "No record of \"{name}\" is in conflict any more (seen at the end of {run}). \
                 Nothing to do."
            ),
        ),
        (IncidentKind::Stale, AlertEvent::Opened) => (
            format!(
                "tentacle: {name} has not run successfully for {} hours",
                facts.stale_after_hours
            ),
            format!(
                "No run of \"{name}\" ended FINISHED or FINISHED PARTIALLY in the last {} hours. \
                 Check Integration controls in tentacle: is the configuration active, does a \
                 `tentacle serve` or `tentacle worker` run, do its runs fail or wait? You get one \
                 more message when a run succeeds again.",
                facts.stale_after_hours
            ),
        ),
        (IncidentKind::ApiVersion, AlertEvent::Opened) => (
            format!("tentacle: {name} uses a Shopify API version that is ending"),
            format!(
                "\"{name}\" uses a Shopify credential whose Admin API version ends soon or has \
                 ended: {} Shopify then answers with the oldest version it still supports, whose \
                 fields may differ. Pick a newer API version on the credential and check the \
                 connection. You get one more message when that is done.",
                facts.detail.unwrap_or("see the credential in tentacle.")
            ),
        ),
        (IncidentKind::ApiVersion, _) => (
            format!("tentacle: {name} uses a supported Shopify API version again"),
            format!(
                "The Shopify credentials of \"{name}\" name an Admin API version Shopify \
                 supports for more than 60 days. Nothing to do."
            ),
        ),
        (IncidentKind::Stale, _) => (
            format!("tentacle: {name} runs again"),
            format!(
                "The {run}of \"{name}\" ended {status}: the configuration runs successfully \
                 again. Nothing to do.{}",
                open_run(facts.run_id),
            ),
        ),
    };
    AlertMessage { subject, text }
}

/// The message of "Send a test alert".
pub fn test_alert_message(channel: &str) -> AlertMessage {
    AlertMessage {
        subject: "tentacle: test alert".to_string(),
        text: format!(
            "This is a test alert from tentacle's alert channel \"{channel}\". If you read this, \
             alerts reach you: a run that ends FAILED, new conflicts and a configuration without \
             a successful run for too long will be reported here, once per incident."
        ),
    }
}

/// What "Send a test alert" says when the webhook took the message.
pub fn test_alert_posted() -> String {
    "Test alert sent: the webhook accepted it; check that it arrived.".to_string()
}

/// What "Send a test alert" says when the SMTP server took the message.
pub fn test_alert_mailed(recipients: &[String]) -> String {
    format!(
        "Test alert sent: the SMTP server accepted it for {}; check the inbox (and the spam \
         folder).",
        recipients.join(", ")
    )
}

/// What "Send a test alert" says when it did not go through; `reason` names no secret.
pub fn test_alert_refused(reason: &str) -> String {
    format!(
        "The test alert was not delivered: {reason}. Check the channel's settings and send \
         another."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: IncidentKind, event: AlertEvent) -> AlertFacts<'static> {
        AlertFacts {
            integration: "Sales orders",
            kind,
            event,
            run_id: Some(42),
            status: Some(RunStatus::Failed),
            error: Some("PULPO rejected the credentials \"wms\"."),
            conflicts: 3,
            stale_after_hours: 24,
            detail: None,
        }
    }

    #[test]
    fn a_failure_names_the_configuration_the_reason_and_the_run() {
        let message = alert_message(&facts(IncidentKind::Failed, AlertEvent::Opened));
        assert_eq!(message.subject, "tentacle: Sales orders FAILED");
        assert!(
            message
                .text
                .contains("PULPO rejected the credentials \"wms\": ".trim_end_matches(": "))
        );
        assert!(message.text.contains("tentacle logs 42"));
        assert!(message.text.contains("/runs/42"));
    }

    #[test]
    fn recovery_and_stale_say_what_happened() {
        let mut recovered = facts(IncidentKind::Failed, AlertEvent::Recovered);
        recovered.status = Some(RunStatus::Finished);
        let message = alert_message(&recovered);
        assert_eq!(message.subject, "tentacle: Sales orders recovered");
        assert!(message.text.contains("ended FINISHED"));
        let stale = alert_message(&facts(IncidentKind::Stale, AlertEvent::Opened));
        assert!(stale.subject.contains("24 hours"));
        let conflicts = alert_message(&facts(IncidentKind::Conflicts, AlertEvent::Opened));
        assert!(conflicts.text.contains("3 in conflict"));
    }
}
