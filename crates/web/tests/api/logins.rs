//! Guessing passwords through the login form, as an attacker would: many wrong passwords for
//! one account, a flood of parallel logins, and telling known from unknown user names by the
//! answer's timing. Each attack must fail.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, RETRY_AFTER};

use crate::helpers::spawn_app;
use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, csrf_of};

/// A login form's CSRF cookie and field, fetched once and reused for every attempt (as a
/// script would).
async fn login_form(base: &str, http: &reqwest::Client) -> (String, String) {
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    let cookie = cookie_of(&form, "tentacle_login_csrf").expect("login CSRF cookie");
    (cookie, csrf_of(&form.text().await.expect("body")))
}

async fn attempt(
    base: &str,
    http: &reqwest::Client,
    (cookie, csrf): &(String, String),
    name: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base}/login"))
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .expect("login answers")
}

#[tokio::test]
async fn a_hundred_wrong_passwords_are_slowed_down_and_the_right_one_waits_too() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let form = login_form(&app.base, &http).await;
    let (mut checked, mut throttled) = (0, 0);
    for i in 0..100 {
        let answer = attempt(&app.base, &http, &form, ADMIN, &format!("guess-number-{i}")).await;
        match answer.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                throttled += 1;
                let wait: u64 = answer.headers()[RETRY_AFTER]
                    .to_str()
                    .expect("ASCII")
                    .parse()
                    .expect("Retry-After in seconds");
                assert!((1..=900).contains(&wait), "Retry-After {wait}");
                let page = answer.text().await.expect("body");
                assert!(page.contains("Too many failed logins"), "{page}");
            }
            other => panic!("attempt {i}: {other}"),
        }
    }
    // Five free failures, the sixth starts the wait; the other 94 are refused unchecked.
    assert_eq!((checked, throttled), (6, 94));

    // The right password does not get through while the account waits...
    let right = attempt(&app.base, &http, &form, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = right.headers()[RETRY_AFTER]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("seconds");
    assert!(cookie_of(&right, "tentacle_session").is_none());
    // ...and does once the wait is over.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let right = attempt(&app.base, &http, &form, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert!(cookie_of(&right, "tentacle_session").is_some());
}

/// The process's peak resident memory so far, in MiB (`VmHWM`).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("VmHWM")
        / 1024
}

#[tokio::test]
async fn four_hundred_parallel_logins_stay_under_a_memory_bound() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let form = login_form(&app.base, &http).await;
    let before = peak_rss_mib();
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..400 {
        let (http, form, base) = (http.clone(), form.clone(), app.base.clone());
        attempts.spawn(async move {
            let name = if i % 2 == 0 {
                ADMIN.to_string()
            } else {
                format!("user{i}")
            };
            attempt(&base, &http, &form, &name, "not-the-password")
                .await
                .status()
        });
    }
    while let Some(status) = attempts.join_next().await {
        let status = status.expect("task");
        assert!(
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(&status),
            "{status}"
        );
    }
    // argon2id takes 19 MiB a verification: 400 at once would be 7.6 GiB; a few at a time
    // stay far below this bound.
    let grown = peak_rss_mib().saturating_sub(before);
    eprintln!("400 parallel logins: peak memory grew by {grown} MiB");
    assert!(grown < 250, "peak memory grew by {grown} MiB");
}

#[tokio::test]
async fn unknown_and_known_user_names_take_as_long_to_refuse() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let form = login_form(&app.base, &http).await;
    // Warm up: the first unknown name pays for the decoy hash once.
    attempt(&app.base, &http, &form, "warm-up", "not-the-password").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // Fewer tries than either budget, so every one is checked.
    for i in 0..4 {
        for (name, times) in [
            (ADMIN.to_string(), &mut known),
            (format!("nobody{i}"), &mut unknown),
        ] {
            let started = Instant::now();
            let answer = attempt(&app.base, &http, &form, &name, "not-the-password").await;
            times.push(started.elapsed());
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        }
    }
    // The fastest of each: what the server's work costs, without the moments a loaded machine
    // (the rest of the suite runs beside this test) left the request waiting.
    let fastest = |times: &Vec<Duration>| times.iter().min().copied().expect("timed");
    let (known, unknown) = (fastest(&known), fastest(&unknown));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.5..=2.0).contains(&ratio),
        "known {known:?} against unknown {unknown:?}"
    );
}
