//! Test support shared by the crates' tests: a PostgreSQL schema of its own per test.
//!
//! PostgreSQL runs at `127.0.0.1:5432` (trust auth, database `test`) here and in CI;
//! `TENTACLE_TEST_POSTGRES` points elsewhere. Where it cannot be reached the PostgreSQL tests
//! say so and skip, except under `CI=true` (set by `.ci/run`), where they fail: CI must never
//! pass without them.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

/// The server the tests use.
pub fn postgres_server_url() -> String {
    std::env::var("TENTACLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A schema that exists for one test and is dropped with this value.
#[derive(Debug)]
pub struct TestSchema {
    server: String,
    name: String,
    /// The database URL whose connections work in this schema.
    pub url: String,
}

impl TestSchema {
    /// Creates a fresh schema on the test server, named after `test` (for whoever looks at the
    /// server while tests run); `None` (with a message) when the server cannot be reached
    /// outside CI. Panics under `CI=true` when it cannot be reached.
    pub async fn create(test: &str) -> Option<TestSchema> {
        TestSchema::create_on(&postgres_server_url(), test).await
    }

    /// Like [`TestSchema::create`], on another server (a test's own PostgreSQL instance).
    pub async fn create_on(server: &str, test: &str) -> Option<TestSchema> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let slug: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>()
            .to_lowercase();
        let name = format!(
            "t_{slug}_{}_{}_{:04x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fastrand::u16(..)
        );
        let connect = match PgConnectOptions::from_str(server) {
            Ok(options) => options,
            Err(error) => panic!("TENTACLE_TEST_POSTGRES is not a PostgreSQL URL: {error}"),
        };
        let mut connection = match connect.connect().await {
            Ok(connection) => connection,
            Err(error) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "PostgreSQL is required under CI=true but {server} cannot be reached: {error}"
                    );
                }
                eprintln!(
                    "SKIPPED {test}: PostgreSQL not reachable at {server} ({error}); set \
                     TENTACLE_TEST_POSTGRES or start it (mandatory under CI=true)"
                );
                return None;
            }
        };
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut connection)
            .await
            .expect("create the test schema");
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-c%20search_path%3D{name}");
        Some(TestSchema {
            server: server.to_string(),
            name,
            url,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
        // with a small runtime does the cleanup. A test killed before this leaves its schema;
        // the names say which test and process made it.
        let server = self.server.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut connection = PgConnectOptions::from_str(&server)
                    .ok()?
                    .connect()
                    .await
                    .ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&mut connection)
                .await
                .ok()
            })
        })
        .join();
    }
}
