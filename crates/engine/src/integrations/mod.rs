//! Integration types. Each type is one module with a type implementing [`IntegrationType`]:
//! its key, the credential kinds of its origin and destination, its settings (declared once, see
//! [`tentacle_domain::settings`]) and its run. [`registry`] lists them; the runner, the
//! scheduler, the controls, the JSON API, the UI and the provisioning file only ever go through
//! it, so a new type is its module plus one line there.
//!
//! What every type would otherwise repeat lives here once: reading and checking the settings,
//! connecting the clients of both credentials by kind, counting what they spend of the APIs for
//! the run and `/metrics` ([`RunContext`]), and turning client errors into a run abort with an
//! operator's message ([`shopify_abort`], [`pulpo_abort`]).

use std::sync::RwLock;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tentacle_domain::messages::{self, System};
use tentacle_domain::run::{ApiUsage, LogEntry};
use tentacle_domain::schedule::Schedule;
use tentacle_domain::settings::{self, Field, FieldError, TypeSettings};
use tentacle_pulpo::{PulpoClient, PulpoError};
use tentacle_shopify::{ShopifyClient, ShopifyError};
use tentacle_store::{
    Credential, CredentialKind, Integration, Run, RunExclusion, Store, StoreError,
};

use crate::connections;
use crate::log::RunLog;
use crate::options::RunOptions;

pub mod generate_shipments;
pub mod products;
pub mod returns;
pub mod sales_orders;
pub mod status_updates;
pub mod stock;

/// The built-in types, in the order the UI offers them.
static BUILT_IN: &[&dyn Kind] = &[
    &Typed(sales_orders::SalesOrders),
    &Typed(stock::Stock),
    &Typed(generate_shipments::GenerateShipments),
    &Typed(status_updates::StatusUpdates),
    &Typed(products::Products),
    &Typed(returns::Returns),
];

/// Why a run stopped before its work was done.
#[derive(Debug)]
pub enum Abort {
    /// The entry says what happened and what to do.
    Entry(LogEntry),
    Store(StoreError),
}

impl From<StoreError> for Abort {
    fn from(error: StoreError) -> Self {
        Abort::Store(error)
    }
}

/// One integration type.
#[async_trait]
pub trait IntegrationType: Send + Sync + 'static {
    /// The type key stored with configurations, e.g. `sales_orders`.
    const KEY: &'static str;
    /// How people call it, e.g. "Sales orders".
    const LABEL: &'static str;
    /// One sentence: what a run does.
    const SUMMARY: &'static str;
    /// The credential kind of the origin (where the data comes from) and the destination.
    const ORIGIN: CredentialKind;
    const DESTINATION: CredentialKind;
    /// The form's help under the origin and destination fields.
    const ORIGIN_HELP: &'static str;
    const DESTINATION_HELP: &'static str;

    type Settings: TypeSettings;

    /// Does the run's work. Counters, flags and log entries go through `run.log`; an `Err` is
    /// an abort (the run ends FAILED with the entry, or resumes after a database outage).
    async fn run(&self, run: &RunContext<'_>, settings: &Self::Settings) -> Result<(), Abort>;

    /// Runs of configurations that must not overlap with each other (sales orders: the daily
    /// re-fetch and the regular runs of one store). None by default.
    fn exclusion(
        &self,
        integration: &Integration,
        settings: &Self::Settings,
    ) -> Option<RunExclusion> {
        let _ = (integration, settings);
        None
    }

    /// Called once a run is claimed, before the clients connect (sales orders: say why a daily
    /// re-fetch started late).
    async fn on_start(
        &self,
        store: &dyn Store,
        integration: &Integration,
        settings: &Self::Settings,
        run: &Run,
        log: &RunLog,
    ) -> Result<(), StoreError> {
        let _ = (store, integration, settings, run, log);
        Ok(())
    }
}

/// An integration type with its settings type erased, as the registry holds it.
#[async_trait]
pub trait Kind: Send + Sync {
    fn key(&self) -> &'static str;
    fn label(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn origin(&self) -> CredentialKind;
    fn destination(&self) -> CredentialKind;
    fn origin_help(&self) -> &'static str;
    fn destination_help(&self) -> &'static str;
    /// Every field in form order: the shared schedule fields, then the type's.
    fn fields(&self) -> Vec<&'static Field>;
    /// The settings with every default.
    fn defaults(&self) -> Value;
    /// Reads and checks settings (omitted keys take their defaults): the settings with every
    /// default filled in, or every bad field.
    fn read_settings(&self, settings: &Map<String, Value>) -> Result<Value, Vec<FieldError>>;
    /// When the configuration runs by itself; `None` when it does not (or its settings cannot
    /// be read: its runs say why when run by hand).
    fn schedule(&self, integration: &Integration) -> Option<Schedule>;
    /// See [`IntegrationType::exclusion`].
    fn exclusion(&self, integration: &Integration) -> Option<RunExclusion>;
    /// Reads the settings, calls the start hook, connects the clients and runs.
    async fn execute(
        &self,
        store: &dyn Store,
        integration: &Integration,
        run: &Run,
        log: &RunLog,
        options: &RunOptions,
    ) -> Result<(), Abort>;
}

/// The erasing wrapper of a type.
struct Typed<T>(T);

impl<T: IntegrationType> Typed<T> {
    /// The settings, checked: what a run works with.
    fn settings(integration: &Integration) -> Result<T::Settings, Vec<FieldError>> {
        let map = integration
            .settings
            .as_object()
            .cloned()
            .unwrap_or_default();
        settings::read(&map, T::KEY)
    }

    /// The settings as stored (checked when saved), without checking them again: the
    /// scheduler reads them for every configuration on every tick.
    fn stored(integration: &Integration) -> Option<T::Settings> {
        serde_json::from_value(integration.settings.clone()).ok()
    }
}

#[async_trait]
impl<T: IntegrationType> Kind for Typed<T> {
    fn key(&self) -> &'static str {
        T::KEY
    }
    fn label(&self) -> &'static str {
        T::LABEL
    }
    fn summary(&self) -> &'static str {
        T::SUMMARY
    }
    fn origin(&self) -> CredentialKind {
        T::ORIGIN
    }
    fn destination(&self) -> CredentialKind {
        T::DESTINATION
    }
    fn origin_help(&self) -> &'static str {
        T::ORIGIN_HELP
    }
    fn destination_help(&self) -> &'static str {
        T::DESTINATION_HELP
    }
    fn fields(&self) -> Vec<&'static Field> {
        settings::fields::<T::Settings>().collect()
    }
    fn defaults(&self) -> Value {
        serde_json::to_value(T::Settings::default()).unwrap_or(Value::Null)
    }
    fn read_settings(&self, settings: &Map<String, Value>) -> Result<Value, Vec<FieldError>> {
        let parsed: T::Settings = settings::read(settings, T::KEY)?;
        serde_json::to_value(&parsed).map_err(|e| vec![FieldError::new("settings", e.to_string())])
    }
    fn schedule(&self, integration: &Integration) -> Option<Schedule> {
        Self::stored(integration)?.schedule().ok()?
    }
    fn exclusion(&self, integration: &Integration) -> Option<RunExclusion> {
        self.0.exclusion(integration, &Self::stored(integration)?)
    }
    async fn execute(
        &self,
        store: &dyn Store,
        integration: &Integration,
        run: &Run,
        log: &RunLog,
        options: &RunOptions,
    ) -> Result<(), Abort> {
        let settings = Self::settings(integration)
            .map_err(|errors| Abort::Entry(messages::invalid_settings(&errors)))?;
        self.0
            .on_start(store, integration, &settings, run, log)
            .await?;
        let context = RunContext::connect::<T>(store, integration, log, options).await?;
        let outcome = self.0.run(&context, &settings).await;
        // What the clients noticed goes in before the run's last entries.
        log.collect_notices();
        outcome
    }
}

/// Types registered at run time, after the built-in ones (a test's toy type; a plug-in).
static REGISTERED: RwLock<Vec<&'static dyn Kind>> = RwLock::new(Vec::new());

/// Adds a type to the registry of this process. Its key must be new.
pub fn register<T: IntegrationType>(integration_type: T) {
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    let taken = |key: &str| {
        BUILT_IN
            .iter()
            .chain(registered.iter())
            .any(|k| k.key() == key)
    };
    if !taken(T::KEY) {
        registered.push(Box::leak(Box::new(Typed(integration_type))));
    }
}

/// Every type this process can run: the built-in ones, then the registered ones.
pub fn registry() -> Vec<&'static dyn Kind> {
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    BUILT_IN
        .iter()
        .copied()
        .chain(registered.iter().copied())
        .collect()
}

/// The type with this key.
pub fn find(key: &str) -> Option<&'static dyn Kind> {
    if let Some(kind) = BUILT_IN.iter().find(|kind| kind.key() == key) {
        return Some(*kind);
    }
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    registered.iter().find(|kind| kind.key() == key).copied()
}

/// Everything a run of any type works with: the store, the configuration, the log, the options,
/// and both credentials with their clients. What the clients spend is counted for the run.
pub struct RunContext<'a> {
    pub store: &'a dyn Store,
    pub integration: &'a Integration,
    pub log: &'a RunLog,
    pub options: &'a RunOptions,
    pub origin: Credential,
    pub destination: Credential,
    shop: Option<ShopifyClient>,
    wms: Option<PulpoClient>,
}

impl<'a> RunContext<'a> {
    async fn connect<T: IntegrationType>(
        store: &'a dyn Store,
        integration: &'a Integration,
        log: &'a RunLog,
        options: &'a RunOptions,
    ) -> Result<RunContext<'a>, Abort> {
        let origin = load_credential(store, integration.origin_credential_id, T::ORIGIN).await?;
        let destination =
            load_credential(store, integration.destination_credential_id, T::DESTINATION).await?;
        let connect_error =
            |e: connections::ConnectionError| Abort::Entry(LogEntry::error(None, e.to_string()));
        let mut shop = None;
        let mut wms = None;
        for credential in [&origin, &destination] {
            match credential.kind {
                CredentialKind::Shopify if shop.is_none() => {
                    shop = Some(connections::shopify_client(credential).map_err(connect_error)?);
                    if let Some(entry) =
                        connections::api_version_warning(credential, options.now.date_naive())
                    {
                        log.record(entry);
                    }
                }
                CredentialKind::Pulpo if wms.is_none() => {
                    wms = Some(
                        connections::pulpo_client(credential, options.pulpo_concurrency)
                            .map_err(connect_error)?,
                    );
                }
                _ => {}
            }
        }
        if let Some(deprecations) = shop.as_ref().map(ShopifyClient::deprecations) {
            log.track_notices(Box::new(move || {
                deprecations
                    .take_new()
                    .iter()
                    .map(|reason| messages::shopify_deprecated(reason))
                    .collect()
            }));
        }
        let shopify_stats = shop.as_ref().map(ShopifyClient::stats);
        let pulpo_stats = wms.as_ref().map(PulpoClient::stats);
        log.track_usage(Box::new(move || {
            let read = |counter: &std::sync::atomic::AtomicU64| {
                counter.load(std::sync::atomic::Ordering::Relaxed)
            };
            let mut usage = ApiUsage::default();
            if let Some(stats) = &shopify_stats {
                usage.shopify_requests = read(&stats.requests);
                usage.shopify_points = read(&stats.points);
                usage.shopify_throttled = read(&stats.throttled);
            }
            if let Some(stats) = &pulpo_stats {
                usage.pulpo_requests = read(&stats.requests);
                usage.pulpo_retries = read(&stats.retries);
            }
            usage
        }));
        Ok(RunContext {
            store,
            integration,
            log,
            options,
            origin,
            destination,
            shop,
            wms,
        })
    }

    /// The Shopify client of whichever credential is a Shopify one.
    ///
    /// # Panics
    /// When neither credential is Shopify: the type's declared kinds say which it has.
    pub fn shopify(&self) -> &ShopifyClient {
        self.shop
            .as_ref()
            .expect("the type declares a Shopify credential")
    }

    /// The PULPO client of whichever credential is a PULPO one (panics like [`Self::shopify`]).
    pub fn pulpo(&self) -> &PulpoClient {
        self.wms
            .as_ref()
            .expect("the type declares a PULPO credential")
    }

    /// The credential of `kind` (the origin when both are).
    pub fn credential(&self, kind: CredentialKind) -> &Credential {
        if self.origin.kind == kind {
            &self.origin
        } else {
            &self.destination
        }
    }
}

async fn load_credential(
    store: &dyn Store,
    id: i64,
    kind: CredentialKind,
) -> Result<Credential, Abort> {
    let credential = store.credential(id).await?.ok_or_else(|| {
        Abort::Entry(LogEntry::error(
            None,
            format!("credential {id} no longer exists: edit the integration configuration"),
        ))
    })?;
    if credential.kind != kind {
        return Err(Abort::Entry(LogEntry::error(
            None,
            format!(
                "credential {:?} is a {} credential where this integration needs a {} one: \
                 edit the integration configuration",
                credential.name,
                credential.kind.as_str(),
                kind.as_str()
            ),
        )));
    }
    Ok(credential)
}

/// The abort for a PULPO error that stops the run, in an operator's words.
pub fn pulpo_abort(error: &PulpoError, credential: &str) -> Abort {
    Abort::Entry(match error {
        PulpoError::LoginRefused { .. } | PulpoError::Unauthorized => {
            messages::credentials_rejected(System::Pulpo, credential)
        }
        PulpoError::Unavailable { attempts, last } => {
            messages::unreachable(System::Pulpo, *attempts, last)
        }
        other => LogEntry::error(
            None,
            format!("{other}: the run stopped and the next run continues where it stopped"),
        ),
    })
}

/// The abort for a Shopify error that stops the run, in an operator's words.
pub fn shopify_abort(error: &ShopifyError, credential: &str) -> Abort {
    Abort::Entry(match error {
        ShopifyError::InvalidToken => messages::credentials_rejected(System::Shopify, credential),
        ShopifyError::Unavailable { attempts, last } => {
            messages::unreachable(System::Shopify, *attempts, last)
        }
        other => LogEntry::error(
            None,
            format!("{other}: the run stopped and the next run continues where it stopped"),
        ),
    })
}

/// Errors that stop the whole run: every other record would hit them too.
pub fn is_systemic(error: &PulpoError) -> bool {
    matches!(
        error,
        PulpoError::LoginRefused { .. } | PulpoError::Unauthorized | PulpoError::Unavailable { .. }
    )
}
