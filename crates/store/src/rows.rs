//! What both backends share: reading a row into a record (the same column names and stored
//! forms on SQLite and PostgreSQL), enums stored as their serde names, epoch-millisecond
//! scheduling times, and the mapping of constraint violations to [`StoreError::Conflict`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Postgres, Row, Sqlite, Type};
use tentacle_domain::alerts::{ChannelKind, ChannelTarget};
use tentacle_domain::run::{ApiUsage, RunCounters};

use crate::{
    AlertChannel, AlertRecord, ApiToken, Attention, AttentionKey, Cipher, Credential,
    CredentialKind, DailyRunTotals, Integration, LinkScope, OrderLink, ProductLink, Result,
    ReturnLink, Run, RunTotals, Secrets, Session, ShipmentLink, StatusMark, StoreError,
    StoredLogEntry, SystemPair, TokenScope, User,
};

/// A value both backends decode.
pub(crate) trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A result row of either backend, read by column name.
pub(crate) trait Columns {
    fn column<T: Column>(&self, name: &str) -> Result<T>;
}

impl Columns for SqliteRow {
    fn column<T: Column>(&self, name: &str) -> Result<T> {
        Ok(Row::try_get(self, name)?)
    }
}

impl Columns for PgRow {
    fn column<T: Column>(&self, name: &str) -> Result<T> {
        Ok(Row::try_get(self, name)?)
    }
}

/// The additional authenticated data of a credential's secrets: its kind and name.
pub(crate) fn secrets_aad(name: &str, kind: CredentialKind) -> Vec<u8> {
    format!("credential:{}:{name}", kind.as_str()).into_bytes()
}

pub(crate) fn credential_from_row(cipher: &Cipher, row: &impl Columns) -> Result<Credential> {
    let name: String = row.column("name")?;
    let kind_text: String = row.column("kind")?;
    let kind = CredentialKind::parse(&kind_text)
        .ok_or_else(|| StoreError::Corrupt(format!("credential kind {kind_text}")))?;
    let sealed: Vec<u8> = row.column("secrets")?;
    let plain = cipher.decrypt(&sealed, &secrets_aad(&name, kind))?;
    let secrets = Secrets::from_plain_json(secrecy::ExposeSecret::expose_secret(&plain))
        .ok_or_else(|| StoreError::Corrupt(format!("secrets of credential {name}")))?;
    let config: String = row.column("config")?;
    Ok(Credential {
        id: row.column("id")?,
        name,
        kind,
        config: serde_json::from_str(&config).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        secrets,
        created_at: row.column("created_at")?,
        updated_at: row.column("updated_at")?,
    })
}

/// Enums are stored as their serde names (`FINISHED_PARTIALLY`, `manual`), so the text in the
/// database is the same the API shows.
pub(crate) fn to_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("enum stored as text must serialize to a string, got {other:?}"),
    }
}

pub(crate) fn from_text<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| StoreError::Corrupt(format!("unknown stored value {text:?}")))
}

pub(crate) fn integration_from_row(row: &impl Columns) -> Result<Integration> {
    let settings: String = row.column("settings")?;
    Ok(Integration {
        id: row.column("id")?,
        name: row.column("name")?,
        kind: row.column("kind")?,
        origin_credential_id: row.column("origin_credential_id")?,
        destination_credential_id: row.column("destination_credential_id")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        active: row.column("active")?,
        created_at: row.column("created_at")?,
        updated_at: row.column("updated_at")?,
    })
}

pub(crate) fn run_from_row(row: &impl Columns) -> Result<Run> {
    let trigger: String = row.column("trigger")?;
    let status: String = row.column("status")?;
    Ok(Run {
        id: row.column("id")?,
        integration_id: row.column("integration_id")?,
        trigger: from_text(&trigger)?,
        status: from_text(&status)?,
        started_at: row.column("started_at")?,
        due_at: row
            .column::<Option<i64>>("due_ms")?
            .map(from_ms)
            .transpose()?,
        attempts: row.column("attempts")?,
        worker: row.column("lease_owner")?,
        finished_at: row.column("finished_at")?,
        counters: RunCounters {
            fetched: row.column::<i64>("fetched")? as u64,
            created: row.column::<i64>("created")? as u64,
            updated: row.column::<i64>("updated")? as u64,
            cancelled: row.column::<i64>("cancelled")? as u64,
            skipped: row.column::<i64>("skipped")? as u64,
            failed: row.column::<i64>("failed")? as u64,
            conflicts: row.column::<i64>("conflicts")? as u64,
        },
        error: row.column("error")?,
    })
}

pub(crate) fn link_from_row(row: &impl Columns) -> Result<OrderLink> {
    let state: String = row.column("state")?;
    let fingerprint: String = row.column("fingerprint")?;
    Ok(OrderLink {
        scope: LinkScope {
            origin_credential_id: row.column("origin_credential_id")?,
            destination_credential_id: row.column("destination_credential_id")?,
        },
        fulfillment_order_id: row.column("fulfillment_order_id")?,
        shopify_order_id: row.column("shopify_order_id")?,
        order_name: row.column("order_name")?,
        order_num: row.column("order_num")?,
        pulpo_order_id: row.column("pulpo_order_id")?,
        warehouse_id: row.column("warehouse_id")?,
        fingerprint: fingerprint
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("fingerprint {fingerprint:?}")))?,
        pulpo_state: from_text(&state)?,
        updated_at: row.column("updated_at")?,
    })
}

pub(crate) fn shipment_link_from_row(row: &impl Columns) -> Result<ShipmentLink> {
    Ok(ShipmentLink {
        scope: system_pair_from_row(row)?,
        box_id: row.column("box_id")?,
        packing_order_id: row.column("packing_order_id")?,
        sales_order_id: row.column("sales_order_id")?,
        fulfillment_order_id: row.column("fulfillment_order_id")?,
        shopify_order_id: row.column("shopify_order_id")?,
        fulfillment_id: row.column("fulfillment_id")?,
        tracking: row.column("tracking")?,
        updated_at: row.column("updated_at")?,
    })
}

pub(crate) fn return_link_from_row(row: &impl Columns) -> Result<ReturnLink> {
    Ok(ReturnLink {
        scope: system_pair_from_row(row)?,
        incoming_good_id: row.column("incoming_good_id")?,
        sales_order_id: row.column("sales_order_id")?,
        shopify_order_id: row.column("shopify_order_id")?,
        return_id: row.column("return_id")?,
        refund_id: row.column("refund_id")?,
        updated_at: row.column("updated_at")?,
    })
}

pub(crate) fn status_mark_from_row(row: &impl Columns) -> Result<StatusMark> {
    let note_lines: String = row.column("note_lines")?;
    Ok(StatusMark {
        scope: system_pair_from_row(row)?,
        shopify_order_id: row.column("shopify_order_id")?,
        tagged_at: row.column("tagged_at")?,
        note_lines: serde_json::from_str(&note_lines)
            .map_err(|_| StoreError::Corrupt(format!("note lines {note_lines:?}")))?,
        updated_at: row.column("updated_at")?,
    })
}

/// Strings as a JSON array: how the note lines of a status mark are stored, and how SQLite takes
/// a list of ids in one parameter.
pub(crate) fn strings_json(strings: &[String]) -> String {
    serde_json::to_string(strings).expect("a list of strings always serializes")
}

pub(crate) fn product_link_from_row(row: &impl Columns) -> Result<ProductLink> {
    Ok(ProductLink {
        scope: system_pair_from_row(row)?,
        variant_id: row.column("variant_id")?,
        pulpo_product_id: row.column("pulpo_product_id")?,
        sku: row.column("sku")?,
        updated_at: row.column("updated_at")?,
    })
}

/// Why the database refused a product link, in words an operator can act on.
pub(crate) fn product_link_conflict(link: &ProductLink) -> String {
    format!(
        "variant {} cannot be linked to PULPO product {} (SKU {}): another variant is, or a \
         credential of the link does not exist",
        link.variant_id, link.pulpo_product_id, link.sku
    )
}

fn system_pair_from_row(row: &impl Columns) -> Result<SystemPair> {
    Ok(SystemPair {
        shopify_credential_id: row.column("shopify_credential_id")?,
        pulpo_credential_id: row.column("pulpo_credential_id")?,
    })
}

pub(crate) fn attention_from_row(row: &impl Columns) -> Result<Attention> {
    let kind: String = row.column("kind")?;
    let record_kind: String = row.column("record_kind")?;
    Ok(Attention {
        key: AttentionKey {
            integration_id: row.column("integration_id")?,
            record_kind: from_text(&record_kind)?,
            record_id: row.column("record_id")?,
        },
        record_label: row.column("record_label")?,
        kind: from_text(&kind)?,
        reason: row.column("reason")?,
        attempts: row.column("attempts")?,
        run_id: row.column("run_id")?,
        updated_at: row.column("updated_at")?,
    })
}

/// Why the database refused a shipment link, in words an operator can act on.
pub(crate) fn shipment_link_conflict(link: &ShipmentLink) -> String {
    match &link.fulfillment_id {
        Some(fulfillment) => format!(
            "box {} cannot be linked to fulfillment {fulfillment}: another box is, or a credential of the link does not exist",
            link.box_id
        ),
        None => format!(
            "box {} cannot be linked: a credential of the link does not exist",
            link.box_id
        ),
    }
}

/// Why the database refused a return link, in words an operator can act on.
pub(crate) fn return_link_conflict(link: &ReturnLink) -> String {
    match &link.return_id {
        Some(shopify_return) => format!(
            "PULPO return {} cannot be linked to Shopify return {shopify_return}: another PULPO return is, or a credential of the link does not exist",
            link.incoming_good_id
        ),
        None => format!(
            "PULPO return {} cannot be linked: a credential of the link does not exist",
            link.incoming_good_id
        ),
    }
}

/// Why the database refused a status mark.
pub(crate) fn status_mark_conflict(mark: &StatusMark) -> String {
    format!(
        "order {} cannot be marked: a credential of the mark does not exist",
        mark.shopify_order_id
    )
}

/// A create's error: a unique violation is the name `taken`, a foreign-key violation `missing`.
pub(crate) fn create_conflict(
    error: sqlx::Error,
    taken: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict { what: taken() }
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Conflict { what: missing() }
        }
        _ => StoreError::Database(error),
    }
}

/// Turns a unique or foreign-key violation into [`StoreError::Conflict`] with `what`.
pub(crate) fn conflict(error: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
            StoreError::Conflict { what: what() }
        }
        _ => StoreError::Database(error),
    }
}

pub(crate) const RUN_COLUMNS: &str = "id, integration_id, trigger, status, started_at, due_ms, attempts, lease_owner, finished_at, fetched, created, updated, cancelled, skipped, failed, conflicts, error";

pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} ms")))
}

pub(crate) fn user_from_row(row: &impl Columns) -> Result<User> {
    Ok(User {
        id: row.column("id")?,
        name: row.column("name")?,
        password_hash: row.column("password_hash")?,
        created_at: row.column("created_at")?,
    })
}

pub(crate) fn session_from_row(row: &impl Columns) -> Result<Session> {
    Ok(Session {
        id: row.column("id")?,
        token_hash: row.column("token_hash")?,
        user_id: row.column("user_id")?,
        user_name: row.column("user_name")?,
        csrf_token: row.column("csrf_token")?,
        created_at: row.column("created_at")?,
        expires_at: row.column("expires_at")?,
    })
}

pub(crate) fn api_token_from_row(row: &impl Columns) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.column("id")?,
        name: row.column("name")?,
        token_hash: row.column("token_hash")?,
        scope: {
            let scope: String = row.column("scope")?;
            TokenScope::parse(&scope).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "API token scope {scope:?} is not one tentacle knows"
                ))
            })?
        },
        created_at: row.column("created_at")?,
        expires_at: row.column("expires_at")?,
        last_used_at: row.column("last_used_at")?,
    })
}

pub(crate) fn lease_lost(run_id: i64) -> StoreError {
    StoreError::LeaseLost { run_id }
}

/// Applies the pending migrations; a database that has a migration this binary does not know
/// was migrated by a newer tentacle and is refused.
pub(crate) async fn migrate<'a, A>(migrator: &sqlx::migrate::Migrator, pool: A) -> Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    match migrator.run(pool).await {
        Ok(()) => Ok(()),
        Err(sqlx::migrate::MigrateError::VersionMissing(version)) => {
            Err(StoreError::SchemaTooNew {
                database_version: version,
                binary_version: migrator.iter().map(|m| m.version).max().unwrap_or(0),
            })
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) fn log_entry_from_row(row: &impl Columns) -> Result<StoredLogEntry> {
    let level: String = row.column("level")?;
    Ok(StoredLogEntry {
        id: row.column("id")?,
        run_id: row.column("run_id")?,
        at: row.column("at")?,
        level: from_text(&level)?,
        record_kind: row.column("record_kind")?,
        record: row.column("record")?,
        message: row.column("message")?,
    })
}

/// One row of the per-integration, per-status totals (`run_totals`); every sum as a 64-bit
/// integer and `finished_seconds` as a float, on both backends.
pub(crate) fn run_totals_from_row(row: &impl Columns) -> Result<RunTotals> {
    let status: String = row.column("status")?;
    let count = |name: &str| -> Result<u64> { Ok(row.column::<i64>(name)? as u64) };
    Ok(RunTotals {
        integration_id: row.column("integration_id")?,
        status: from_text(&status)?,
        runs: count("runs")?,
        counters: RunCounters {
            fetched: count("fetched")?,
            created: count("created")?,
            updated: count("updated")?,
            cancelled: count("cancelled")?,
            skipped: count("skipped")?,
            failed: count("failed")?,
            conflicts: count("conflicts")?,
        },
        finished_seconds: row.column("finished_seconds")?,
        usage: ApiUsage {
            shopify_requests: count("shopify_requests")?,
            shopify_points: count("shopify_points")?,
            shopify_throttled: count("shopify_throttled")?,
            pulpo_requests: count("pulpo_requests")?,
            pulpo_retries: count("pulpo_retries")?,
        },
    })
}

/// One row of `daily_run_totals`: `day` is the UTC day number since the Unix epoch.
pub(crate) fn daily_run_totals_from_row(row: &impl Columns) -> Result<DailyRunTotals> {
    let count = |name: &str| -> Result<u64> { Ok(row.column::<i64>(name)?.max(0) as u64) };
    let day: i64 = row.column("day")?;
    let day = chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|at| at.date_naive())
        .ok_or_else(|| StoreError::Corrupt(format!("run end day {day} is out of range")))?;
    Ok(DailyRunTotals {
        integration_id: row.column("integration_id")?,
        day,
        runs: count("runs")?,
        partial_runs: count("partial_runs")?,
        failed_runs: count("failed_runs")?,
        counters: RunCounters {
            fetched: count("fetched")?,
            created: count("created")?,
            updated: count("updated")?,
            cancelled: count("cancelled")?,
            skipped: count("skipped")?,
            failed: count("failed")?,
            conflicts: count("conflicts")?,
        },
        seconds: row.column("seconds")?,
        longest_seconds: row.column("longest_seconds")?,
    })
}
/// The additional authenticated data of an alert channel's password: its name, so a ciphertext
/// copied onto another channel fails to decrypt.
fn alert_aad(name: &str) -> Vec<u8> {
    format!("alert:{name}").into_bytes()
}

/// The sealed form of a channel's password (`{}` sealed when there is none).
pub(crate) fn seal_alert_password(
    cipher: &Cipher,
    name: &str,
    password: Option<&secrecy::SecretString>,
) -> Vec<u8> {
    let secrets = match password {
        Some(password) => Secrets::new().with("password", password.clone()),
        None => Secrets::new(),
    };
    cipher.encrypt(&secrets.to_plain_json(), &alert_aad(name))
}

/// The non-secret settings of a channel, as stored in `config`.
pub(crate) fn alert_config(target: &ChannelTarget) -> String {
    let value = match target {
        ChannelTarget::Webhook { url } => serde_json::json!({ "url": url }),
        ChannelTarget::Email {
            smtp_host,
            smtp_port,
            starttls,
            username,
            from,
            to,
        } => serde_json::json!({
            "smtp_host": smtp_host, "smtp_port": smtp_port, "starttls": starttls,
            "username": username, "from": from, "to": to,
        }),
    };
    value.to_string()
}

fn alert_target(kind: &str, config: &str) -> Result<ChannelTarget> {
    let corrupt = || StoreError::Corrupt(format!("alert channel config {config}"));
    let value: serde_json::Value = serde_json::from_str(config).map_err(|_| corrupt())?;
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
    match kind.parse::<ChannelKind>().map_err(|_| corrupt())? {
        ChannelKind::Webhook => Ok(ChannelTarget::Webhook {
            url: text("url").ok_or_else(corrupt)?,
        }),
        ChannelKind::Email => Ok(ChannelTarget::Email {
            smtp_host: text("smtp_host").ok_or_else(corrupt)?,
            smtp_port: value
                .get("smtp_port")
                .and_then(|v| v.as_u64())
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(corrupt)?,
            starttls: value
                .get("starttls")
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
            username: text("username"),
            from: text("from").ok_or_else(corrupt)?,
            to: value
                .get("to")
                .and_then(|v| v.as_array())
                .ok_or_else(corrupt)?
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
        }),
    }
}

/// A channel from its row and the configurations it covers (`None` when it covers all).
pub(crate) fn alert_channel_from_row(
    cipher: &Cipher,
    row: &impl Columns,
    integration_ids: Option<Vec<i64>>,
) -> Result<AlertChannel> {
    let name: String = row.column("name")?;
    let kind: String = row.column("kind")?;
    let config: String = row.column("config")?;
    let sealed: Vec<u8> = row.column("secrets")?;
    let plain = cipher.decrypt(&sealed, &alert_aad(&name))?;
    let secrets = Secrets::from_plain_json(secrecy::ExposeSecret::expose_secret(&plain))
        .ok_or_else(|| StoreError::Corrupt(format!("password of alert channel {name}")))?;
    let hours: i64 = row.column("stale_after_hours")?;
    Ok(AlertChannel {
        id: row.column("id")?,
        target: alert_target(&kind, &config)?,
        password: secrets.get("password").cloned(),
        name,
        integration_ids,
        stale_after_hours: u32::try_from(hours)
            .map_err(|_| StoreError::Corrupt(format!("stale threshold {hours}")))?,
        created_at: row.column("created_at")?,
        updated_at: row.column("updated_at")?,
    })
}

pub(crate) fn alert_record_from_row(row: &impl Columns) -> Result<AlertRecord> {
    let kind: String = row.column("kind")?;
    let event: String = row.column("event")?;
    Ok(AlertRecord {
        id: row.column("id")?,
        channel_id: row.column("channel_id")?,
        incident_id: row.column("incident_id")?,
        run_id: row.column("run_id")?,
        integration_name: row.column("integration_name")?,
        kind: kind
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("incident kind {kind}")))?,
        event: event
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("alert event {event}")))?,
        subject: row.column("subject")?,
        text: row.column("body")?,
        created_at: row.column("created_at")?,
        attempts: row.column("attempts")?,
        delivered_at: row.column("delivered_at")?,
        last_error: row.column("last_error")?,
    })
}

/// How a run ended, for the incidents its end opens or closes.
pub(crate) struct RunEnd<'a> {
    pub run_id: i64,
    pub integration_id: i64,
    pub status: tentacle_domain::run::RunStatus,
    pub error: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// One notice of an incident, to queue for some channels.
pub(crate) struct Notice<'a> {
    pub incident_id: i64,
    pub run_id: Option<i64>,
    pub integration: &'a str,
    pub kind: tentacle_domain::alerts::IncidentKind,
    pub event: tentacle_domain::alerts::AlertEvent,
    pub message: &'a tentacle_domain::messages::AlertMessage,
    pub now: DateTime<Utc>,
}
