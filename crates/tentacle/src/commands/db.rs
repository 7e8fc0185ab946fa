//! Opening the store named by `--db`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tentacle_store::{Cipher, SqliteStore, Store};

/// The key file sits beside the database file: `sqlite://data/tentacle.db` → `data/tentacle.key`.
fn key_file(url: &str) -> PathBuf {
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

pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if !url.starts_with("sqlite:") {
        anyhow::bail!("unsupported database URL {url:?}: use sqlite://path/to/tentacle.db");
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
