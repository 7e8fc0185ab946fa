//! tentacle's HTTP surface: the web UI at `/` ([`ui`], login with a local account), the JSON
//! API under `/api/` (credentials, integrations, runs and their logs, alert channels) with its OpenAPI
//! document, `/healthz` and `/metrics`.
//!
//! Startup hands back the socket: [`build`] binds (port 0 in tests) and returns an [`App`]
//! whose address is known before [`App::serve`] runs it until the shutdown future resolves.
//!
//! Every API route but `/healthz` and `/api/openapi.json` needs `Authorization: Bearer <token>`,
//! with a token made by `tentacle token create NAME` ([`auth::issue_token`]). `/metrics` needs
//! one too: its labels name integrations, and Prometheus can send a bearer token.

mod alerts;
pub mod auth;
mod controls;
mod credentials;
mod error;
mod integrations;
mod logins;
mod ops;
mod runs;
pub mod tokens;
mod transport;
mod ui;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tentacle_store::Store;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, FieldProblem};
pub use transport::Limits;

/// The largest request body the JSON API reads: 1 MiB. The largest real one, a configuration
/// with its settings, is a few KB; a bigger body is refused with 413 before it is stored
/// anywhere (the UI's forms have their own, smaller cap).
pub const MAX_API_BODY_BYTES: usize = 1024 * 1024;

/// What the web app needs to start.
pub struct Config {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    pub store: Arc<dyn Store>,
    /// A TLS-terminating proxy is in front (`serve --behind-proxy`): its `X-Forwarded-Proto`
    /// is trusted, and only then may `listen` be an address other machines reach.
    pub behind_proxy: bool,
    /// Time limits and the connection cap.
    pub limits: Limits,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Arc<dyn Store>,
    pub logins: Arc<logins::LoginGuard>,
}

/// A bound, not yet serving, web app.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    limits: Limits,
}

/// Binds the listener and builds the router. An address other machines reach is refused
/// unless a TLS proxy is declared in front ([`Config::behind_proxy`]): tentacle speaks plain
/// HTTP, and its sessions and tokens must not cross a network in clear text.
pub async fn build(config: Config) -> std::io::Result<App> {
    check_listen(config.listen, config.behind_proxy)
        .map_err(|refusal| std::io::Error::new(std::io::ErrorKind::InvalidInput, refusal))?;
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let (mut router, _) = router(config.store);
    if config.behind_proxy {
        router = router.layer(axum::middleware::from_fn(transport::forwarded_https));
    }
    Ok(App {
        listener,
        address,
        router,
        limits: config.limits,
    })
}

/// Whether tentacle may listen on `listen`: a loopback address always, any other only with a
/// TLS-terminating proxy declared in front; otherwise what to do instead.
pub fn check_listen(listen: SocketAddr, behind_proxy: bool) -> Result<(), String> {
    if behind_proxy || listen.ip().is_loopback() {
        Ok(())
    } else {
        Err(tentacle_domain::messages::open_listener_refused(listen))
    }
}

impl App {
    /// The bound address (with the real port when 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish, under the
    /// time limits and the connection cap of [`Limits`].
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        transport::serve(self.listener, self.router, self.limits, shutdown).await
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tentacle",
        description = "Credentials, integration configurations and runs of tentacle, which keeps a Shopify store and a PULPO WMS warehouse in sync. Every route but /healthz and /api/openapi.json needs `Authorization: Bearer <token>` (`tentacle token create NAME`)."
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody, FieldProblem))
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            auth::SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The router and the OpenAPI document describing it. Both come from the same route list, so
/// a served route is a documented route.
pub fn router(store: Arc<dyn Store>) -> (Router, utoipa::openapi::OpenApi) {
    let state = AppState {
        store,
        logins: Arc::default(),
    };
    let pages = ui::router(state.clone());
    let protected = OpenApiRouter::new()
        .routes(routes!(
            credentials::list_credentials,
            credentials::create_credential
        ))
        .routes(routes!(
            credentials::get_credential,
            credentials::update_credential,
            credentials::delete_credential
        ))
        .routes(routes!(credentials::check_credential))
        .routes(routes!(integrations::list_integration_types))
        .routes(routes!(
            integrations::list_integrations,
            integrations::create_integration
        ))
        .routes(routes!(
            integrations::get_integration,
            integrations::update_integration,
            integrations::delete_integration
        ))
        .routes(routes!(controls::get_state))
        .routes(routes!(controls::start))
        .routes(routes!(controls::stop))
        .routes(routes!(controls::run_now))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::list_logs))
        .routes(routes!(alerts::list_alerts, alerts::create_alert))
        .routes(routes!(
            alerts::get_alert,
            alerts::update_alert,
            alerts::delete_alert
        ))
        .routes(routes!(alerts::test_alert))
        .routes(routes!(ops::metrics))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_API_BODY_BYTES));
    let public = OpenApiRouter::new()
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::openapi_json));
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(protected)
        .merge(public)
        .fallback(ops::not_found)
        .with_state(state)
        .split_for_parts();
    let api = integrations::document_types(api);
    let document = Arc::new(api.clone());
    (pages.merge(router).layer(axum::Extension(document)), api)
}
