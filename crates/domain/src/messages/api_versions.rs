//! What a run, a credential and a connection check say about the Shopify API version a
//! credential is pinned to: Shopify supports each version about a year, then answers requests
//! to it with the oldest version it still supports, whose fields may differ.

use chrono::NaiveDate;

use crate::run::LogEntry;

/// How close a Shopify API version is to the end of its support, on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAge {
    /// Supported for more than the warning period still.
    Supported { ends: NaiveDate },
    /// Support ends within the warning period (60 days).
    EndingSoon { ends: NaiveDate, days_left: i64 },
    /// Support ended: Shopify answers with another version.
    Ended { ended: NaiveDate },
}

/// The note on a credential whose version is ending or ended (`recommended`: a version to
/// move to); `None` otherwise.
pub fn api_version_note(
    version: &str,
    age: VersionAge,
    recommended: Option<&str>,
) -> Option<String> {
    let newer = match recommended {
        Some(newer) => format!("a newer api_version (such as {newer})"),
        None => "a newer api_version".to_string(),
    };
    match age {
        VersionAge::Supported { .. } => None,
        VersionAge::EndingSoon { ends, days_left } => Some(format!(
            "Shopify API version {version} reaches its end of support on {ends} (in {days_left} \
             days); after that Shopify answers with its oldest supported version instead. Pick \
             {newer} on this credential and check the connection."
        )),
        VersionAge::Ended { ended } => Some(format!(
            "Shopify API version {version} is no longer supported since {ended}: Shopify answers \
             with its oldest supported version instead, whose fields may differ. Pick {newer} on \
             this credential and check the connection."
        )),
    }
}

/// WARNING (run, once): the credential's Shopify API version ends soon or ended.
pub fn api_version_ending(
    credential: &str,
    version: &str,
    age: VersionAge,
    recommended: Option<&str>,
) -> Option<LogEntry> {
    let note = api_version_note(version, age, recommended)?;
    Some(LogEntry::warning(
        None,
        format!("Credential \"{credential}\": {note}"),
    ))
}

/// WARNING (run, once per distinct reason): Shopify flagged something the request used as
/// deprecated (its `X-Shopify-API-Deprecated-Reason` header names the field).
pub fn shopify_deprecated(reason: &str) -> LogEntry {
    LogEntry::warning(
        None,
        format!(
            "Shopify reports that tentacle uses something deprecated: {reason}. It still works \
             on this API version but may stop with a later one; report it to tentacle's \
             maintainers (upgrading tentacle may already fix it)"
        ),
    )
}
