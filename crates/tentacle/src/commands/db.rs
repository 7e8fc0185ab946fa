//! Opening the store named by `--db`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tentacle_store::{Cipher, PgStore, SqliteStore, Store, StoreError};

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
    if url.contains(":memory:") && master_key.is_none() {
        return Ok(Arc::new(
            SqliteStore::open(url, Cipher::ephemeral())
                .await
                .with_context(|| format!("cannot open the database {url}"))?,
        ));
    }
    let store = match master_key {
        Some(hex_key) => {
            let cipher = Cipher::from_hex(&hex_key).context("TENTACLE_MASTER_KEY")?;
            SqliteStore::open(url, cipher).await.map_err(|error| match error {
                StoreError::WrongKey => anyhow::anyhow!(
                    "TENTACLE_MASTER_KEY is not the key of the database {url}: set it to the key \
                     the database was made with (from your backup of it); nothing was changed"
                ),
                error => anyhow::Error::new(error).context(format!("cannot open the database {url}")),
            })?
        }
        None => open_with_key_file(url, &key_file(url)).await?,
    };
    Ok(Arc::new(store))
}

/// The key file beside the database, checked against it. A missing file gets a new key only
/// for a database that has none yet: a new key beside secrets made with another would leave
/// them unreadable, and mix two keys in one database.
async fn open_with_key_file(url: &str, key_file: &Path) -> anyhow::Result<SqliteStore> {
    let shown = key_file.display();
    match Cipher::read_key_file(key_file).context("cannot load the key for stored secrets")? {
        Some(cipher) => SqliteStore::open(url, cipher).await.map_err(|error| match error {
            StoreError::WrongKey => anyhow::anyhow!(
                "the key in {shown} is not the key of the database {url}: put the database's own \
                 key file back from your backup (or set TENTACLE_MASTER_KEY to that key); nothing \
                 was changed"
            ),
            error => anyhow::Error::new(error).context(format!("cannot open the database {url}")),
        }),
        None => {
            let (cipher, key) = Cipher::generate();
            let store = SqliteStore::open(url, cipher).await.map_err(|error| match error {
                StoreError::WrongKey => anyhow::anyhow!(
                    "the key file {shown} is missing, but the database {url} was made with a key: \
                     restore {shown} from your backup (or set TENTACLE_MASTER_KEY to that key). \
                     No new key was made: it would not open the stored secrets"
                ),
                error => anyhow::Error::new(error).context(format!("cannot open the database {url}")),
            })?;
            Cipher::write_key_file(key_file, &key).context("cannot keep the new key")?;
            tracing::info!(key_file = %shown, "New key for stored secrets written; back it up beside the database.");
            Ok(store)
        }
    }
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
    PgStore::open(url, cipher).await.map_err(|error| match error {
        StoreError::WrongKey => anyhow::anyhow!(
            "TENTACLE_MASTER_KEY is not the key of this PostgreSQL database: every process must \
             be given the key the database was made with (from your backup of it); nothing was \
             changed"
        ),
        error => anyhow::Error::new(error).context("cannot open the PostgreSQL database"),
    })
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
