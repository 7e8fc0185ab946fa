//! Webhook delivery: a JSON POST whose `text` Slack and Microsoft Teams incoming webhooks show
//! as the message, with the same facts as fields for anything else that reads it.

use std::sync::LazyLock;
use std::time::Duration;

use serde_json::json;

use super::{Outgoing, SEND_TIMEOUT};

/// One client for every webhook: no redirects (an alert goes where the operator said, not
/// where an answer points), a timeout.
static CLIENT: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tentacle/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
});

/// The body of a webhook message.
pub(super) fn body(message: &Outgoing) -> serde_json::Value {
    json!({
        "text": format!("{}\n\n{}", message.subject, message.text),
        "subject": message.subject,
        "id": message.id,
        "integration": message.integration,
        "incident": message.kind.map(|k| k.as_str()),
        "event": message.event.as_str(),
        "run_id": message.run_id,
    })
}

pub(super) async fn post(url: &str, message: &Outgoing) -> Result<(), String> {
    let client = CLIENT.as_ref().map_err(Clone::clone)?;
    // The URL may carry the webhook's token (Slack's do): errors never name it.
    let answer = client
        .post(url)
        .json(&body(message))
        .send()
        .await
        .map_err(|e| format!("the webhook could not be reached: {}", e.without_url()))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "the webhook answered HTTP {status}{}",
            if status.is_redirection() {
                " (a redirect; tentacle does not follow them: use the final URL)"
            } else {
                ""
            }
        ))
    }
}
