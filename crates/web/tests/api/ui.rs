//! The web UI over plain HTTP: nothing but the login page without a session, no form post
//! without the session's CSRF token, and logins that need the right password.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use tentacle_store::{Attention, AttentionKey, AttentionKind, RecordKind};

use crate::helpers::spawn_app;

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// Every page of the UI, with an id that exists in none.
const PAGES: &[&str] = &[
    "/",
    "/credentials",
    "/credentials/new?type=shopify",
    "/credentials/1/edit",
    "/integrations",
    "/integrations/new",
    "/integrations/1/edit",
    "/controls",
    "/controls/rows",
    "/runs/1",
    "/runs/1/live",
    "/attention",
    "/account",
];

/// Every form endpoint.
const FORMS: &[&str] = &[
    "/logout",
    "/credentials",
    "/credentials/1",
    "/credentials/1/delete",
    "/credentials/1/check",
    "/integrations",
    "/integrations/1",
    "/integrations/1/delete",
    "/controls/1/start",
    "/controls/1/stop",
    "/controls/1/run",
    "/attention/retry",
    "/attention/resolve",
    "/account/password",
    "/account/logout-everywhere",
];

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `name=value` of a Set-Cookie header called `name`.
pub(crate) fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The value of the first hidden `csrf` field of a page.
pub(crate) fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[start..]
        .split('"')
        .next()
        .expect("its value")
        .to_string()
}

/// Logs in through the form: the session cookie.
pub(crate) async fn log_in(
    base: &str,
    http: &reqwest::Client,
    password: &str,
) -> reqwest::Response {
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    assert_eq!(form.status(), StatusCode::OK);
    let login_cookie = cookie_of(&form, "tentacle_login_csrf").expect("login CSRF cookie");
    let csrf = csrf_of(&form.text().await.expect("body"));
    http.post(format!("{base}/login"))
        .header(COOKIE, login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", ADMIN),
            ("password", password),
        ])
        .send()
        .await
        .expect("login")
}

#[tokio::test]
async fn nothing_but_the_login_page_is_reachable_without_a_session() {
    let app = spawn_app().await;
    let http = client();
    for page in PAGES {
        let answer = http
            .get(format!("{}{page}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "GET {page}");
        assert_eq!(answer.headers()[LOCATION], "/login", "GET {page}");
    }
    for form in FORMS {
        let answer = http
            .post(format!("{}{form}", app.base))
            .form(&[("csrf", "guess"), ("integration_id", "1")])
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "POST {form}");
    }
    // A made-up session cookie is no session.
    let answer = http
        .get(format!("{}/controls", app.base))
        .header(COOKIE, "tentacle_session=0123")
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let login = http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("login page");
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.expect("body").contains("Log in"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_a_form_post_needs_the_csrf_token() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();

    let refused = log_in(&app.base, &http, "wrong-password-here").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_of(&refused, "tentacle_session").is_none());
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("Wrong user name or password")
    );

    let accepted = log_in(&app.base, &http, ADMIN_PASSWORD).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let session = cookie_of(&accepted, "tentacle_session").expect("session cookie");
    let set = accepted.headers()[SET_COOKIE]
        .to_str()
        .expect("header")
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    let page = http
        .get(format!("{}/credentials/new?type=pulpo", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("form page");
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.expect("body"));
    let fields = [
        ("type", "pulpo"),
        ("name", "wms"),
        ("config.base_url", "http://127.0.0.1:9/api/v1"),
        ("config.username", "sandbox_admin"),
        ("secrets.password", "pulpo-secret-Pw9x"),
    ];

    let without = http
        .post(format!("{}/credentials", app.base))
        .header(COOKIE, &session)
        .form(&fields)
        .send()
        .await
        .expect("post");
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let wrong = http
        .post(format!("{}/credentials", app.base))
        .header(COOKIE, &session)
        .form(&[&fields[..], &[("csrf", "0".repeat(64).as_str())]].concat())
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(app.store.credentials().await.expect("list").is_empty());

    let with = http
        .post(format!("{}/credentials", app.base))
        .header(COOKIE, &session)
        .form(&[&fields[..], &[("csrf", csrf.as_str())]].concat())
        .send()
        .await
        .expect("post");
    assert_eq!(with.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store.credentials().await.expect("list").len(), 1);

    // The edit form says a secret is stored but never shows it.
    let id = app.store.credentials().await.expect("list")[0].id;
    let edit = http
        .get(format!("{}/credentials/{id}/edit", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("edit page")
        .text()
        .await
        .expect("body");
    assert!(edit.contains("Stored. Leave empty to keep it"));
    assert!(!edit.contains("pulpo-secret-Pw9x"));

    let logout = http
        .post(format!("{}/logout", app.base))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let after = http
        .get(format!("{}/controls", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("request");
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session ended");
}

#[tokio::test]
async fn the_attention_list_shows_each_record_with_its_kind_and_resolves_one() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let (_, _, integration) = app.provision().await;
    let flag = |record_kind, record_id: &str, record_label: &str| Attention {
        key: AttentionKey {
            integration_id: integration,
            record_kind,
            record_id: record_id.into(),
        },
        record_label: record_label.into(),
        kind: AttentionKind::Conflict,
        reason: "settle it in PULPO".into(),
        attempts: 1,
        run_id: None,
        updated_at: chrono::Utc::now(),
    };
    let order = flag(RecordKind::Order, "gid://shopify/Order/1001", "#1001");
    let sku = flag(RecordKind::Sku, "ABC-1", "ABC-1");
    for attention in [&order, &sku] {
        app.store.flag(attention).await.expect("flag");
    }
    let http = client();
    let session = cookie_of(
        &log_in(&app.base, &http, ADMIN_PASSWORD).await,
        "tentacle_session",
    )
    .expect("session cookie");

    let page = http
        .get(format!("{}/attention", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("attention page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains(r##"data-record-kind="order" data-record="#1001""##)
            && page.contains(r#"data-record-kind="sku" data-record="ABC-1""#),
        "{page}"
    );
    assert!(
        page.contains(r#"name="record_kind" value="sku""#)
            && page.contains(r#"name="record_id" value="gid://shopify/Order/1001""#),
        "{page}"
    );

    let resolved = http
        .post(format!("{}/attention/resolve", app.base))
        .header(COOKIE, &session)
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("integration_id", integration.to_string().as_str()),
            ("record_kind", "sku"),
            ("record_id", "ABC-1"),
        ])
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status(), StatusCode::SEE_OTHER);
    let left: Vec<AttentionKey> = app
        .store
        .flags(Some(integration))
        .await
        .expect("flags")
        .into_iter()
        .map(|a| a.key)
        .collect();
    assert_eq!(left, [order.key], "only the SKU was resolved");
}

#[tokio::test]
async fn a_single_choice_setting_is_a_select_and_keeps_what_was_chosen() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let (shop, wms, _) = app.provision().await;
    let http = client();
    let session = cookie_of(
        &log_in(&app.base, &http, ADMIN_PASSWORD).await,
        "tentacle_session",
    )
    .expect("session");
    let form = http
        .get(format!("{}/integrations/new?type=products", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("body");
    // The products type's price source: one of two, the default chosen.
    let select = form
        .split(r#"<select id="price_source" name="settings.price_source""#)
        .nth(1)
        .and_then(|rest| rest.split("</select>").next())
        .unwrap_or_else(|| panic!("no price source select:\n{form}"));
    assert!(!select.contains("multiple"), "{select}");
    assert!(
        select.contains(r#"<option value="variant" selected>variant</option>"#)
            && select.contains(r#"<option value="inventory_item">inventory item</option>"#),
        "{select}"
    );
    let post = |price_source: &'static str| {
        let http = http.clone();
        let session = session.clone();
        let csrf = csrf_of(&form);
        let url = format!("{}/integrations", app.base);
        async move {
            http.post(url)
                .header(COOKIE, session)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("type", "products"),
                    ("name", "Catálogo"),
                    ("origin_credential_id", &shop.to_string()),
                    ("destination_credential_id", &wms.to_string()),
                    ("settings.frequency_minutes", "10"),
                    ("settings.price_source", price_source),
                    ("settings.only_physical_products", "on"),
                ])
                .send()
                .await
                .expect("post")
        }
    };
    let refused = post("retail").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = refused.text().await.expect("body");
    assert!(
        text.contains("price source must be one of: variant, inventory_item")
            || text.contains("unknown variant `retail`"),
        "{text}"
    );
    let saved = post("inventory_item").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let integration = app
        .store
        .integration_by_name("Catálogo")
        .await
        .expect("store")
        .expect("saved");
    assert_eq!(integration.settings["price_source"], "inventory_item");
    let edit = http
        .get(format!("{}/integrations/{}/edit", app.base, integration.id))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("edit")
        .text()
        .await
        .expect("body");
    assert!(
        edit.contains(r#"<option value="inventory_item" selected>inventory item</option>"#),
        "{edit}"
    );
}
