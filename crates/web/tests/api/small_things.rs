//! Issue 14's small things: unknown ids answer 404 (not 500 with an ERROR line), names and
//! URLs have limits, a create of a name that exists is a 409 even when two race.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::COOKIE;

use crate::helpers::spawn_app;
use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, csrf_of, log_in};

/// Every log line the server writes on this test's thread (a current-thread runtime runs the
/// server there too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn unknown_ids_on_the_ui_forms_are_404_pages_without_an_error_in_the_log() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let session = cookie_of(
        &log_in(&app.base, &http, ADMIN_PASSWORD).await,
        "tentacle_session",
    )
    .expect("session");
    let page = http
        .get(format!("{}/controls", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("page");
    let csrf = csrf_of(&page.text().await.expect("body"));

    for (form, what) in [
        ("/controls/987/run", "integration 987"),
        ("/controls/987/start", "integration 987"),
        ("/controls/987/stop", "integration 987"),
        ("/attention/retry", "integration 987"),
        ("/integrations/987/delete", "integration 987"),
        ("/credentials/987/delete", "credential 987"),
        ("/credentials/987/check", "credential 987"),
        ("/alerts/987/delete", "alert channel 987"),
        ("/alerts/987/test", "alert channel 987"),
    ] {
        let answer = http
            .post(format!("{}{form}", app.base))
            .header(COOKIE, &session)
            .form(&[("csrf", csrf.as_str()), ("integration_id", "987")])
            .send()
            .await
            .expect("post");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "POST {form}");
        let body = answer.text().await.expect("body");
        assert!(
            body.contains(&format!("{what} not found")),
            "POST {form}: {body}"
        );
    }
    let written = logs.text();
    assert!(
        written.contains("Logged in"),
        "the capture works: {written}"
    );
    assert!(!written.contains("ERROR"), "{written}");
}
