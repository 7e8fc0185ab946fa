//! The logged-in user's account: a password change ends every session of the account and
//! needs the current password; "log out everywhere" ends the sessions of every browser.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::helpers::spawn_app;
use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, csrf_of, log_in};

/// A logged-in session: its cookie and the CSRF token of its forms.
async fn session(base: &str, http: &reqwest::Client, password: &str) -> (String, String) {
    let login = log_in(base, http, password).await;
    assert_eq!(
        login.status(),
        StatusCode::SEE_OTHER,
        "log in with {password:?}"
    );
    let cookie = cookie_of(&login, "tentacle_session").expect("session");
    let page = http
        .get(format!("{base}/account"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("account page");
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.expect("body"));
    (cookie, csrf)
}

async fn is_live(base: &str, http: &reqwest::Client, cookie: &str) -> bool {
    let page = http
        .get(format!("{base}/account"))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("account page");
    page.status() == StatusCode::OK
}

async fn change(
    base: &str,
    http: &reqwest::Client,
    (cookie, csrf): &(String, String),
    current: &str,
    new: &str,
    repeat: &str,
) -> reqwest::Response {
    http.post(format!("{base}/account/password"))
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", current),
            ("new", new),
            ("repeat", repeat),
        ])
        .send()
        .await
        .expect("password change")
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_every_session() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let laptop = session(&app.base, &http, ADMIN_PASSWORD).await;
    let phone = session(&app.base, &http, ADMIN_PASSWORD).await;
    let new = "a-much-longer-new-password";

    for (current, new_password, repeat, says) in [
        ("wrong-password-here", new, new, "current password is wrong"),
        (ADMIN_PASSWORD, new, "something-else-entirely", "differ"),
        (ADMIN_PASSWORD, "short", "short", "at least 12 characters"),
    ] {
        let refused = change(&app.base, &http, &laptop, current, new_password, repeat).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = refused.text().await.expect("body");
        assert!(
            page.contains(says) && page.contains("nothing was changed"),
            "{page}"
        );
    }
    assert!(
        is_live(&app.base, &http, &phone.0).await,
        "nothing changed yet"
    );

    let changed = change(&app.base, &http, &laptop, ADMIN_PASSWORD, new, new).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(changed.headers()[LOCATION], "/login");
    assert!(!is_live(&app.base, &http, &laptop.0).await);
    assert!(
        !is_live(&app.base, &http, &phone.0).await,
        "the other browser too"
    );
    assert_eq!(
        log_in(&app.base, &http, ADMIN_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    session(&app.base, &http, new).await;
}

#[tokio::test]
async fn log_out_everywhere_ends_the_sessions_of_every_browser() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let laptop = session(&app.base, &http, ADMIN_PASSWORD).await;
    let phone = session(&app.base, &http, ADMIN_PASSWORD).await;
    let out = http
        .post(format!("{}/account/logout-everywhere", app.base))
        .header(COOKIE, &laptop.0)
        .form(&[("csrf", laptop.1.as_str())])
        .send()
        .await
        .expect("log out everywhere");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!is_live(&app.base, &http, &laptop.0).await);
    assert!(!is_live(&app.base, &http, &phone.0).await);
    // The password still works: only the sessions ended.
    session(&app.base, &http, ADMIN_PASSWORD).await;
}
