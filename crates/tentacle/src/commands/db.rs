//! Opening the store named by `--db`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tentacle_store::{Cipher, PgStore, SqliteStore, Store};

/// The key file sits beside the database file: `sqlite://data/tentacle.db` → `data/tentacle.key`.
pub fn key_file(url: &str) -> PathBuf {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let directory = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    directory.join("tentacle.key")
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store named by `url`, applying pending migrations; refuses a database migrated by
/// a newer tentacle.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if is_postgres(url) {
        return Ok(Arc::new(open_postgres(url).await?));
    }
    if !url.starts_with("sqlite:") {
        anyhow::bail!(
            "unsupported database URL: use sqlite://path/to/tentacle.db or postgres://user@host/database"
        );
    }
    let master_key = std::env::var("TENTACLE_MASTER_KEY").ok();
    let cipher = if url.contains(":memory:") && master_key.is_none() {
        Cipher::ephemeral()
    } else {
        Cipher::load(master_key.as_deref(), &key_file(url))
            .context("cannot load the key for stored secrets")?
    };
    let store = SqliteStore::open(url, cipher)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    Ok(Arc::new(store))
}

/// `tentacle migrate`: applies pending migrations and says where the schema stands.
pub async fn migrate(url: &str) -> anyhow::Result<()> {
    let store = open(url).await?;
    let version = store
        .schema_version()
        .await
        .context("cannot read the schema version")?;
    println!("{}", serde_json::json!({ "schema_version": version }));
    eprintln!("database schema at version {version}: up to date");
    Ok(())
}

/// PostgreSQL is shared by processes on several machines, so the key cannot sit beside a file:
/// every process must be given the same TENTACLE_MASTER_KEY.
async fn open_postgres(url: &str) -> anyhow::Result<PgStore> {
    let master_key = std::env::var("TENTACLE_MASTER_KEY").map_err(|_| {
        anyhow::anyhow!(
            "TENTACLE_MASTER_KEY is not set: with PostgreSQL every tentacle process must be given \
             the same 64-hex-character key for stored secrets (generate one with \
             `openssl rand -hex 32`)"
        )
    })?;
    let cipher = Cipher::from_hex(&master_key).context("TENTACLE_MASTER_KEY")?;
    // The URL may carry a password: never echo it.
    PgStore::open(url, cipher)
        .await
        .context("cannot open the PostgreSQL database")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_beside_the_database() {
        assert_eq!(
            key_file("sqlite://data/tentacle.db"),
            PathBuf::from("data/tentacle.key")
        );
        assert_eq!(
            key_file("sqlite://tentacle.db?mode=rwc"),
            PathBuf::from("./tentacle.key")
        );
        assert_eq!(
            key_file("sqlite:///var/lib/t/x.db"),
            PathBuf::from("/var/lib/t/tentacle.key")
        );
    }
}
