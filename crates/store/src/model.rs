//! The records the store keeps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tentacle_domain::alerts::{AlertEvent, ChannelTarget, IncidentKind};
pub use tentacle_domain::run::RecordKind;
use tentacle_domain::run::{ApiUsage, LogLevel, RunCounters, RunStatus, Trigger};
use tentacle_domain::sales_order::{Fingerprint, LinkedSalesOrder, PulpoOrderState};

/// Which system a credential connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Shopify,
    Pulpo,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Shopify => "shopify",
            CredentialKind::Pulpo => "pulpo",
        }
    }

    pub fn parse(value: &str) -> Option<CredentialKind> {
        match value {
            "shopify" => Some(CredentialKind::Shopify),
            "pulpo" => Some(CredentialKind::Pulpo),
            _ => None,
        }
    }
}

/// Secret fields of a credential (access token, password, webhook secret…). `Debug` never shows
/// the values.
#[derive(Clone, Default)]
pub struct Secrets(BTreeMap<String, SecretString>);

impl Secrets {
    pub fn new() -> Secrets {
        Secrets::default()
    }

    pub fn with(mut self, name: &str, value: SecretString) -> Secrets {
        self.0.insert(name.to_string(), value);
        self
    }

    pub fn without(mut self, name: &str) -> Secrets {
        self.0.remove(name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub(crate) fn to_plain_json(&self) -> Vec<u8> {
        let plain: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        serde_json::to_vec(&plain).expect("a map of strings always serializes")
    }

    pub(crate) fn from_plain_json(bytes: &[u8]) -> Option<Secrets> {
        let plain: BTreeMap<String, String> = serde_json::from_slice(bytes).ok()?;
        Some(Secrets(
            plain
                .into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        ))
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub id: i64,
    pub name: String,
    pub kind: CredentialKind,
    /// Non-secret fields (shop URL, API version, base URL, username…).
    pub config: Value,
    pub secrets: Secrets,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A credential to create, or to update when one with that name exists.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub name: String,
    pub kind: CredentialKind,
    pub config: Value,
    pub secrets: Secrets,
}

impl NewCredential {
    /// A Shopify credential: shop URL and API version in the clear, the Admin API access token
    /// among the secrets. The one place that knows this layout; the engine reads it back.
    pub fn shopify(
        name: impl Into<String>,
        shop_url: &str,
        api_version: &str,
        access_token: SecretString,
    ) -> NewCredential {
        NewCredential {
            name: name.into(),
            kind: CredentialKind::Shopify,
            config: serde_json::json!({"shop_url": shop_url, "api_version": api_version}),
            secrets: Secrets::new().with("access_token", access_token),
        }
    }

    /// A PULPO credential: instance base URL and API username in the clear, the password among
    /// the secrets.
    pub fn pulpo(
        name: impl Into<String>,
        base_url: &str,
        username: &str,
        password: SecretString,
    ) -> NewCredential {
        NewCredential {
            name: name.into(),
            kind: CredentialKind::Pulpo,
            config: serde_json::json!({"base_url": base_url, "username": username}),
            secrets: Secrets::new().with("password", password),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: i64,
    pub name: String,
    /// The integration type key, e.g. `sales_orders`.
    pub kind: String,
    pub origin_credential_id: i64,
    pub destination_credential_id: i64,
    /// Type-specific settings, validated by the domain before they are saved.
    pub settings: Value,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An integration to create, or to update when one with that name exists.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntegration {
    pub name: String,
    pub kind: String,
    pub origin_credential_id: i64,
    pub destination_credential_id: i64,
    pub settings: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: i64,
    pub integration_id: i64,
    pub trigger: Trigger,
    pub status: RunStatus,
    /// When the run first started; while it is queued and has never started, its due time.
    pub started_at: DateTime<Utc>,
    /// When the run may start (its scheduled time for `schedule` and `daily` runs); `None` for
    /// runs recorded before runs were queued.
    pub due_at: Option<DateTime<Utc>>,
    /// How often a worker claimed the run: 0 while it never started, more once it resumed.
    pub attempts: i64,
    /// The worker holding the run while it is `RUNNING` (e.g. `serve-4711-3f2a9c1b`: role,
    /// process id, random suffix), so an operator can tell which process works on it.
    pub worker: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counters: RunCounters,
    /// Why the run failed, when it did, in words an operator can act on.
    pub error: Option<String>,
}

/// A worker's hold on a running run: writes of the run succeed only while the run is still
/// `RUNNING` under this owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub run_id: i64,
    pub owner: String,
}

/// A run to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    pub integration_id: i64,
    pub trigger: Trigger,
    /// When it may start; for `schedule` and `daily` runs also its identity (one run per
    /// configuration and due time).
    pub due_at: DateTime<Utc>,
    pub exclusion: Option<RunExclusion>,
}

/// Runs with the same key and different roles never run at once, and a daily run keeps
/// `gap_seconds` away from the end of a regular one (SPEC §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunExclusion {
    /// The shared resource, e.g. the Shopify store (origin credential).
    pub key: String,
    pub role: ExclusionRole,
    /// For daily runs: the time difference kept after a regular run ends (and before a regular
    /// run starts after this one ends). Ignored for regular runs.
    pub gap_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionRole {
    /// The once-a-day re-fetch.
    Daily,
    /// A regular (every N minutes) configuration's run.
    Regular,
}

/// What [`crate::RunStore::enqueue_run`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub run: Run,
    /// `false` when an equivalent run was already queued (same due time, or a run of the same
    /// configuration that has not started yet and is due no later), and `run` is that one.
    pub created: bool,
}

/// A worker asking for a run to work on.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub owner: String,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    /// Only this run (`tentacle run` claims the run it queued); `None` for the oldest due one.
    pub run_id: Option<i64>,
}

/// What the reaper does with running runs whose lease expired before `now` (their worker is
/// presumed dead): each goes back to `QUEUED` with the `resumed` entry, unless its worker has
/// now been lost `max_losses` times, in which case it ends `FAILED` with the `failed` entry, so
/// a run that kills every worker it lands on does not go round forever.
#[derive(Debug, Clone, PartialEq)]
pub struct Reap {
    pub now: DateTime<Utc>,
    pub max_losses: i64,
    pub resumed: NewLogEntry,
    pub failed: NewLogEntry,
}

/// What [`crate::RunStore::reap_expired_runs`] did: ids of the runs queued again and of the runs
/// failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaped {
    pub requeued: Vec<i64>,
    pub failed: Vec<i64>,
}

/// Who schedules (see [`crate::SchedulerStore`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerLease {
    /// The process, as its workers are named (`serve-4711-3f2a9c1b`).
    pub owner: String,
    /// When it took the role over.
    pub since: DateTime<Utc>,
    /// Until when it holds the role without renewing it.
    pub lease_until: DateTime<Utc>,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub integration_id: Option<i64>,
    pub status: Option<RunStatus>,
    /// Only runs started at or after this time.
    pub started_from: Option<DateTime<Utc>>,
    /// Only runs started before this time.
    pub started_until: Option<DateTime<Utc>>,
    /// Only runs with a smaller id (the next page, newest first).
    pub before_id: Option<i64>,
    pub limit: Option<u32>,
}

/// Totals over the runs of one integration that ended (or are running) in one status, for
/// metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTotals {
    pub integration_id: i64,
    pub status: RunStatus,
    pub runs: u64,
    pub counters: RunCounters,
    /// Sum of `finished_at - started_at` over the runs that finished, in seconds.
    pub finished_seconds: f64,
    pub usage: ApiUsage,
}

/// One configuration's runs that ended on one day (UTC), for the overview's charts.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyRunTotals {
    pub integration_id: i64,
    /// The UTC day the runs ended.
    pub day: chrono::NaiveDate,
    /// Runs that ended that day, in any final status.
    pub runs: u64,
    /// Of those, the ones that ended FINISHED PARTIALLY and FAILED.
    pub partial_runs: u64,
    pub failed_runs: u64,
    pub counters: RunCounters,
    /// Sum and maximum of `finished_at - started_at` over those runs, in seconds.
    pub seconds: f64,
    pub longest_seconds: f64,
}

/// What the retention job deletes in one call: ended runs (with their log entries) that ended
/// before a time, never a run an attention record points at, never a run that is not final.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// FINISHED and FINISHED PARTIALLY runs that ended before this go.
    pub ended_before: DateTime<Utc>,
    /// FAILED runs that ended before this go (kept longer: they explain incidents).
    pub failed_ended_before: DateTime<Utc>,
    /// At most this many log entries and this many runs are deleted per call, in one short
    /// transaction, so runs writing meanwhile never wait long.
    pub batch: u32,
}

/// What one retention call deleted; both 0 when nothing is left to delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub runs: u64,
    pub log_entries: u64,
}

/// An API token as stored: its name and the SHA-256 of the token (hex), never the token.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    /// After this the token is refused; `None`: it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// When a request last used it (to the minute), to tell unused tokens to revoke.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a new API token holds.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApiToken {
    pub name: String,
    pub token_hash: String,
    pub scope: TokenScope,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What an API token may do. Give each user of the API the least it needs: Prometheus
/// `metrics`, a dashboard `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenScope {
    /// `GET /metrics` only.
    Metrics,
    /// Every `GET` of the API and `/metrics`: reads, never a change, never the tokens.
    Read,
    /// Everything, tokens included.
    Admin,
}

impl TokenScope {
    pub const ALL: [TokenScope; 3] = [TokenScope::Metrics, TokenScope::Read, TokenScope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Metrics => "metrics",
            TokenScope::Read => "read",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<TokenScope> {
        TokenScope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A local admin account of the web UI: its name and argon2 password hash (PHC string).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A web UI login session, stored by the SHA-256 of its cookie value (hex).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: i64,
    pub token_hash: String,
    pub user_id: i64,
    pub user_name: String,
    /// Every form of this session carries it; a post without it is refused.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a new session holds.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredLogEntry {
    pub id: i64,
    pub run_id: i64,
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    /// What kind of record the entry concerns (`order`, `sku`, …) and which one (`#1001`).
    pub record_kind: Option<String>,
    pub record: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLogEntry {
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub record_kind: Option<String>,
    pub record: Option<String>,
    pub message: String,
}

/// Which log entries of a run to read, oldest first.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Only entries at this level or more severe.
    pub min_level: Option<LogLevel>,
    /// Only entries whose record or message contains this text (an order name, a SKU).
    pub record: Option<String>,
    pub after_id: Option<i64>,
    pub limit: Option<u32>,
}

/// The pair of systems an order link belongs to: the Shopify store and the PULPO instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkScope {
    pub origin_credential_id: i64,
    pub destination_credential_id: i64,
}

/// One Shopify fulfillment order ↔ one PULPO sales order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLink {
    pub scope: LinkScope,
    pub fulfillment_order_id: String,
    pub shopify_order_id: String,
    pub order_name: String,
    pub order_num: String,
    pub warehouse_id: i64,
    /// `None` while the create call is unconfirmed: PULPO may or may not have the order, so the
    /// next attempt looks it up by `order_num` before creating it.
    pub pulpo_order_id: Option<i64>,
    /// The PULPO state as last seen.
    pub pulpo_state: PulpoOrderState,
    /// Fingerprint of the lines and ship-to last sent to PULPO.
    pub fingerprint: Fingerprint,
    pub updated_at: DateTime<Utc>,
}

impl OrderLink {
    /// What the sales orders rules need to know of a confirmed link; `None` while pending.
    pub fn linked(&self) -> Option<LinkedSalesOrder> {
        Some(LinkedSalesOrder {
            fulfillment_order_id: self.fulfillment_order_id.clone(),
            pulpo_order_id: self.pulpo_order_id?,
            order_num: self.order_num.clone(),
            warehouse_id: self.warehouse_id,
            state: self.pulpo_state,
            fingerprint: self.fingerprint,
        })
    }
}

/// The pair of systems the state of the PULPO → Shopify types (`generate_shipments`,
/// `status_updates`, `returns`) belongs to, named by system rather than by direction: the configurations
/// of one store and one PULPO instance share it, and an integration's deletion keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemPair {
    pub shopify_credential_id: i64,
    pub pulpo_credential_id: i64,
}

/// One PULPO packing box ↔ one Shopify fulfillment: a box is fulfilled once, and the database
/// keeps one link per box and per fulfillment.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentLink {
    pub scope: SystemPair,
    /// The PULPO packing box: the link's identity within its scope.
    pub box_id: i64,
    pub packing_order_id: i64,
    /// The PULPO sales order the box ships.
    pub sales_order_id: i64,
    /// The Shopify fulfillment order whose lines the box fulfills.
    pub fulfillment_order_id: String,
    pub shopify_order_id: String,
    /// `None` while the create call is unconfirmed: Shopify may or may not have the
    /// fulfillment, so the next attempt looks for it on the fulfillment order before creating it.
    pub fulfillment_id: Option<String>,
    /// Fingerprint of the tracking last sent to Shopify (e.g. `carrier|number|url`), compared
    /// for equality only: a tracking that changed in PULPO differs from it and is sent once.
    pub tracking: String,
    pub updated_at: DateTime<Utc>,
}

/// One Shopify product variant ↔ one PULPO product (`products`): the database keeps one link
/// per variant and one per PULPO product, so a SKU is created once and claimed by one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductLink {
    pub scope: SystemPair,
    /// `gid://shopify/ProductVariant/N`: the link's identity within its scope.
    pub variant_id: String,
    pub pulpo_product_id: i64,
    /// The SKU the link was last written with.
    pub sku: String,
    pub updated_at: DateTime<Utc>,
}

/// One PULPO customer return (an incoming good of document type `return`) ↔ one Shopify
/// return: a PULPO return is registered once, and the database keeps one link per PULPO return
/// and per Shopify return.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnLink {
    pub scope: SystemPair,
    /// The PULPO incoming good: the link's identity within its scope.
    pub incoming_good_id: i64,
    /// The PULPO sales order the goods shipped on.
    pub sales_order_id: i64,
    pub shopify_order_id: String,
    /// `None` while the create call is unconfirmed: Shopify may or may not have the return, so
    /// the next attempt looks for it on the order before creating it.
    pub return_id: Option<String>,
    /// The Shopify refund of the returned goods, once made (only when the settings ask for
    /// refunds).
    pub refund_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What `status_updates` did to one Shopify order, so it does each thing once.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusMark {
    pub scope: SystemPair,
    pub shopify_order_id: String,
    /// When the tag was added. Once set, saving a mark never clears or moves it, so an order
    /// the merchant untagged is not tagged again.
    pub tagged_at: Option<DateTime<Utc>>,
    /// The lot/serial lines appended to the order note so far, in the order appended.
    pub note_lines: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    Failed,
    Conflict,
}

/// The record a flag is about: which configuration, which kind of record and which one (a
/// Shopify order by id, a product by SKU). A configuration keeps at most one flag per record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttentionKey {
    pub integration_id: i64,
    pub record_kind: RecordKind,
    /// The record's stable id, e.g. `gid://shopify/Order/1001` or the SKU.
    pub record_id: String,
}

/// A record that needs another look: it failed (retried by later runs) or is in conflict
/// (waits for an operator).
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub key: AttentionKey,
    /// What an operator knows the record by: `#1001` for an order, the SKU for a SKU.
    pub record_label: String,
    pub kind: AttentionKind,
    pub reason: String,
    /// How often the record was flagged; [`crate::AttentionStore::flag`] counts, whatever is
    /// given here.
    pub attempts: i64,
    pub run_id: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// A write of a running run; see [`crate::RunStore::write_held`]. An integration type whose
/// run keeps state of its own adds a variant for it.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldWrite {
    /// [`crate::IntegrationStore::set_cursor`].
    Cursor {
        integration_id: i64,
        at: DateTime<Utc>,
    },
    /// [`crate::SalesOrderStore::save_order_link`].
    OrderLink(OrderLink),
    /// [`crate::ShipmentStore::save_shipment_link`].
    ShipmentLink(ShipmentLink),
    /// [`crate::StatusUpdateStore::save_status_mark`].
    StatusMark(StatusMark),
    /// [`crate::ProductStore::save_product_link`].
    ProductLink(ProductLink),
    /// Drops the link of a variant that no longer has the linked product's SKU, so another
    /// variant can claim the product.
    DropProductLink {
        scope: SystemPair,
        variant_id: String,
    },
    /// [`crate::ReturnStore::save_return_link`].
    ReturnLink(ReturnLink),
    /// [`crate::AttentionStore::flag`].
    Flag(Attention),
    /// [`crate::AttentionStore::clear_flag`].
    ClearFlag(AttentionKey),
}

/// An alert channel to save: where alerts go, which configurations it covers and when a
/// configuration counts as stale for it.
#[derive(Debug, Clone)]
pub struct NewAlertChannel {
    pub name: String,
    pub target: ChannelTarget,
    /// The SMTP password of an email channel; sealed before it reaches the database.
    pub password: Option<SecretString>,
    /// The configurations it covers; `None`: every one, present and future.
    pub integration_ids: Option<Vec<i64>>,
    pub stale_after_hours: u32,
}

/// A stored alert channel. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct AlertChannel {
    pub id: i64,
    pub name: String,
    pub target: ChannelTarget,
    pub password: Option<SecretString>,
    /// Sorted; `None`: every configuration.
    pub integration_ids: Option<Vec<i64>>,
    pub stale_after_hours: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AlertChannel {
    /// The channel as it would be saved again, e.g. to keep its password on an update.
    pub fn to_new(&self) -> NewAlertChannel {
        NewAlertChannel {
            name: self.name.clone(),
            target: self.target.clone(),
            password: self.password.clone(),
            integration_ids: self.integration_ids.clone(),
            stale_after_hours: self.stale_after_hours,
        }
    }
}

/// One message of the alert outbox: queued in the transaction that ended a run (or opened a
/// stale incident), delivered later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: i64,
    pub channel_id: i64,
    pub incident_id: i64,
    /// The run whose end queued it.
    pub run_id: Option<i64>,
    pub integration_name: String,
    pub kind: IncidentKind,
    pub event: AlertEvent,
    pub subject: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far (claims).
    pub attempts: i64,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
}

/// A configuration whose Shopify credential names an Admin API version that ends within 60
/// days or ended, with the note saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionDue {
    pub integration_id: i64,
    pub note: String,
}

/// A claim of due outbox messages under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertClaim {
    pub owner: String,
    pub now: DateTime<Utc>,
    /// Until when the claimed messages are this owner's; after that another process may send
    /// them.
    pub lease_until: DateTime<Utc>,
    /// Only the messages queued by the end of this run.
    pub run_id: Option<i64>,
    pub limit: i64,
}

/// A claimed message with its channel.
#[derive(Debug, Clone)]
pub struct AlertDelivery {
    pub record: AlertRecord,
    pub channel: AlertChannel,
}

/// Which outbox messages to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub channel_id: Option<i64>,
    pub run_id: Option<i64>,
    /// Only those not delivered yet.
    pub pending: bool,
    pub limit: Option<u32>,
}
