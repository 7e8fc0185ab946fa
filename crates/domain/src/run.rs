//! Runs: how one execution of an integration configuration was started, what it counted, what
//! it logged, and the rule that turns those counters into its final status.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::string_enum::string_enum;

string_enum! {
    custom_display
    /// The state of a run. Stored and serialized as `QUEUED`, `RUNNING`, `FINISHED`,
    /// `FINISHED_PARTIALLY`, `FAILED` ([`RunStatus::as_str`]); `Display` gives the words shown
    /// to people. A run goes `QUEUED → RUNNING →` one of the final three; a running run whose
    /// worker stopped or was lost goes back to `QUEUED` and resumes.
    RunStatus, "run status" {
        /// The run waits for its due time, for a worker, or for another run to end.
        Queued => "QUEUED",
        /// The run is working.
        Running => "RUNNING",
        /// Every record was handled without error; skips by filter are not errors.
        Finished => "FINISHED",
        /// Some records failed, the others were handled.
        FinishedPartially => "FINISHED_PARTIALLY",
        /// The run could not do its job.
        Failed => "FAILED",
    }
}

/// The status as shown to people: `FINISHED PARTIALLY` rather than `FINISHED_PARTIALLY`.
impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Finished => "FINISHED",
            Self::FinishedPartially => "FINISHED PARTIALLY",
            Self::Failed => "FAILED",
        })
    }
}

impl RunStatus {
    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }

    /// The final status of a run from what it counted and how it ended:
    /// - [`RunEnd::Aborted`] (bad credentials, an API still down after retries, invalid
    ///   settings) → `FAILED`, whatever was handled before: the run did not do its job, and the
    ///   records it never reached were neither handled nor failed;
    /// - completed with no failed record → `FINISHED` (skips and conflicts are outcomes, not
    ///   errors; a run with nothing to do is finished too);
    /// - completed with failed records and some handled → `FINISHED_PARTIALLY`;
    /// - completed with every fetched record failed → `FAILED` (nothing handled).
    pub fn conclude(counters: &RunCounters, end: RunEnd) -> Self {
        match end {
            RunEnd::Aborted => Self::Failed,
            RunEnd::Completed if counters.failed == 0 => Self::Finished,
            RunEnd::Completed if counters.handled() > 0 => Self::FinishedPartially,
            RunEnd::Completed => Self::Failed,
        }
    }
}

/// How a run's work ended, as input to [`RunStatus::conclude`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The run went through every record it fetched (some may have failed).
    Completed,
    /// The run stopped before its work was done: credentials refused, an API unreachable after
    /// retries, settings invalid.
    Aborted,
}

/// What a run counted.
///
/// `fetched`, `skipped` and `failed` count source records (for sales orders: Shopify orders);
/// `created`, `updated`, `cancelled` and `conflicts` count target records (PULPO sales orders,
/// one per Shopify fulfillment order). A record counted as failed is retried by later runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounters {
    pub fetched: u64,
    pub created: u64,
    pub updated: u64,
    pub cancelled: u64,
    pub skipped: u64,
    pub failed: u64,
    pub conflicts: u64,
}

impl RunCounters {
    /// Fetched records that did not fail: imported, updated, cancelled, skipped, in conflict or
    /// unchanged.
    pub fn handled(&self) -> u64 {
        self.fetched.saturating_sub(self.failed)
    }
}

/// What a run spent of the external APIs: the merchant's Shopify budget and PULPO's capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub shopify_requests: u64,
    /// Sum of Shopify's `actualQueryCost`: the points charged to the store's shared bucket.
    pub shopify_points: u64,
    /// Answers `THROTTLED` (each waited for the bucket, then went again).
    pub shopify_throttled: u64,
    pub pulpo_requests: u64,
    /// PULPO answers that had to be retried (429, 5xx, transport failures).
    pub pulpo_retries: u64,
}

impl ApiUsage {
    /// What was spent since `earlier` (counters only grow).
    pub fn since(&self, earlier: &ApiUsage) -> ApiUsage {
        ApiUsage {
            shopify_requests: self
                .shopify_requests
                .saturating_sub(earlier.shopify_requests),
            shopify_points: self.shopify_points.saturating_sub(earlier.shopify_points),
            shopify_throttled: self
                .shopify_throttled
                .saturating_sub(earlier.shopify_throttled),
            pulpo_requests: self.pulpo_requests.saturating_sub(earlier.pulpo_requests),
            pulpo_retries: self.pulpo_retries.saturating_sub(earlier.pulpo_retries),
        }
    }
}

string_enum! {
    /// What started a run. Stored as `schedule`, `daily`, `manual`, `webhook`.
    Trigger, "run trigger" {
        /// The configuration's regular schedule (every *frequency* minutes).
        Schedule => "schedule",
        /// The once-a-day re-fetch at the transmission time.
        Daily => "daily",
        /// "Run now" from the UI, the API or the CLI.
        Manual => "manual",
        /// A Shopify webhook for one order.
        Webhook => "webhook",
    }
}

string_enum! {
    /// How serious a log entry is. Stored as `INFO`, `WARNING`, `ERROR`.
    LogLevel, "log level" {
        /// Something happened as expected (imported, skipped by filter, cancelled).
        Info => "INFO",
        /// Handled, but the operator should look (skipped for missing data, conflict).
        Warning => "WARNING",
        /// A record (or the run) failed; it is retried by later runs.
        Error => "ERROR",
    }
}

/// The record a log entry concerns, so the run page can filter by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RecordRef {
    /// A Shopify order by name, e.g. `#1001`.
    Order(String),
    /// A product by SKU, e.g. `ABC-1`.
    Sku(String),
}

impl RecordRef {
    /// Which kind of record this is.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::Order(_) => RecordKind::Order,
            Self::Sku(_) => RecordKind::Sku,
        }
    }
}

/// The kinds of record a run works on, the same as [`RecordRef`]'s: what a log entry or an
/// attention flag concerns. Stored and shown as its snake_case name (`order`, `sku`); a new
/// integration type that works on another kind (a box, a return) adds it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Order,
    Sku,
    /// A PULPO packing box (`generate_shipments`).
    Box,
    /// A PULPO customer return, an incoming good (`returns`).
    Return,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Sku => "sku",
            Self::Box => "box",
            Self::Return => "return",
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Order(name) => write!(f, "order {name}"),
            Self::Sku(sku) => write!(f, "SKU {sku}"),
        }
    }
}

/// One line of a run's log. The caller stamps it with the time when it stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub level: LogLevel,
    /// The record concerned; `None` for entries about the whole run.
    pub record: Option<RecordRef>,
    /// What happened and what the operator should do. Never contains secrets.
    pub message: String,
}

impl LogEntry {
    /// An INFO entry.
    pub fn info(record: Option<RecordRef>, message: impl Into<String>) -> Self {
        Self::new(LogLevel::Info, record, message)
    }

    /// A WARNING entry.
    pub fn warning(record: Option<RecordRef>, message: impl Into<String>) -> Self {
        Self::new(LogLevel::Warning, record, message)
    }

    /// An ERROR entry.
    pub fn error(record: Option<RecordRef>, message: impl Into<String>) -> Self {
        Self::new(LogLevel::Error, record, message)
    }

    /// An entry of any level.
    pub fn new(level: LogLevel, record: Option<RecordRef>, message: impl Into<String>) -> Self {
        Self {
            level,
            record,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(fetched: u64, failed: u64) -> RunCounters {
        RunCounters {
            fetched,
            failed,
            ..RunCounters::default()
        }
    }

    #[test]
    fn a_record_kind_is_named_as_it_travels_and_as_its_record_says() {
        for (record, name) in [
            (RecordRef::Order("#1001".into()), "order"),
            (RecordRef::Sku("ABC-1".into()), "sku"),
        ] {
            assert_eq!(record.kind().as_str(), name);
            assert_eq!(
                serde_json::to_string(&record.kind()).unwrap(),
                format!("\"{name}\"")
            );
        }
    }

    #[test]
    fn status_travels_as_screaming_snake_and_reads_as_words() {
        assert_eq!(
            serde_json::to_string(&RunStatus::FinishedPartially).unwrap(),
            "\"FINISHED_PARTIALLY\""
        );
        assert_eq!(
            serde_json::from_str::<RunStatus>("\"FAILED\"").unwrap(),
            RunStatus::Failed
        );
        assert_eq!(
            RunStatus::FinishedPartially.to_string(),
            "FINISHED PARTIALLY"
        );
        assert_eq!(RunStatus::Running.to_string(), "RUNNING");
        assert_eq!(RunStatus::FinishedPartially.as_str(), "FINISHED_PARTIALLY");
        assert_eq!(
            "FINISHED_PARTIALLY".parse(),
            Ok(RunStatus::FinishedPartially)
        );
        assert!(!RunStatus::Running.is_final());
        assert!(!RunStatus::Queued.is_final());
        assert_eq!(
            serde_json::to_string(&RunStatus::Queued).unwrap(),
            "\"QUEUED\""
        );
        assert!(RunStatus::Failed.is_final());
    }

    #[test]
    fn every_record_handled_is_finished_even_with_skips_and_conflicts() {
        let skipped_and_conflicts = RunCounters {
            fetched: 5,
            created: 2,
            skipped: 2,
            conflicts: 1,
            ..RunCounters::default()
        };
        assert_eq!(
            RunStatus::conclude(&skipped_and_conflicts, RunEnd::Completed),
            RunStatus::Finished
        );
    }

    #[test]
    fn nothing_to_do_is_finished() {
        assert_eq!(
            RunStatus::conclude(&RunCounters::default(), RunEnd::Completed),
            RunStatus::Finished
        );
    }

    #[test]
    fn some_failed_others_handled_is_finished_partially() {
        assert_eq!(
            RunStatus::conclude(&counters(10, 1), RunEnd::Completed),
            RunStatus::FinishedPartially
        );
    }

    #[test]
    fn every_record_failed_is_failed() {
        assert_eq!(
            RunStatus::conclude(&counters(3, 3), RunEnd::Completed),
            RunStatus::Failed
        );
    }

    #[test]
    fn an_aborted_run_failed_whatever_it_handled() {
        assert_eq!(
            RunStatus::conclude(&RunCounters::default(), RunEnd::Aborted),
            RunStatus::Failed
        );
        assert_eq!(
            RunStatus::conclude(&counters(10, 0), RunEnd::Aborted),
            RunStatus::Failed
        );
    }

    #[test]
    fn triggers_levels_and_records_serialize_for_storage() {
        assert_eq!(serde_json::to_string(&Trigger::Daily).unwrap(), "\"daily\"");
        assert_eq!("webhook".parse(), Ok(Trigger::Webhook));
        assert_eq!(
            serde_json::to_string(&LogLevel::Warning).unwrap(),
            "\"WARNING\""
        );
        assert_eq!(
            serde_json::to_value(RecordRef::Order("#1001".into())).unwrap(),
            serde_json::json!({"kind": "order", "id": "#1001"})
        );
        assert_eq!(RecordRef::Sku("ABC-1".into()).to_string(), "SKU ABC-1");
    }
}
