//! `tentacle backup FILE` and `tentacle restore FILE`: a consistent copy of a live SQLite
//! database, and putting one back after checking that it is a tentacle database this binary can
//! read and whose secrets the current key opens. PostgreSQL is backed up with its own tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tentacle_domain::messages::{self, KeySource};
use tentacle_store::prelude::*;
use tentacle_store::{Cipher, NewLogEntry, Reap, SqliteContents, SqliteStore, StoreError};

use super::db::{is_postgres, key_file};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write the copy to.
    file: PathBuf,
    /// Replace FILE when it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file `tentacle backup` wrote; it replaces the database `--db` names.
    file: PathBuf,
}

/// The SQLite file a `sqlite://` URL names.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    if url.contains(":memory:") {
        anyhow::bail!("{url} is an in-memory database: there is nothing to back up or restore");
    }
    if !url.starts_with("sqlite:") {
        anyhow::bail!("unsupported database URL: use sqlite://path/to/tentacle.db");
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    Ok(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// Where the key of the database at `url` comes from.
fn key_source(url: &str) -> KeySource {
    if std::env::var_os("TENTACLE_MASTER_KEY").is_some() {
        KeySource::Environment
    } else {
        let file = key_file(url);
        KeySource::File(
            std::path::absolute(&file)
                .unwrap_or(file)
                .display()
                .to_string(),
        )
    }
}

/// A file beside `target` for a copy in progress (same directory, so the rename is atomic).
fn partial_beside(target: &Path, what: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tentacle.db".into());
    target.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

pub async fn backup(db: &str, args: BackupArgs) -> anyhow::Result<ExitCode> {
    if is_postgres(db) {
        eprintln!("error: {}", messages::backup_postgres());
        return Ok(ExitCode::FAILURE);
    }
    let source = sqlite_path(db)?;
    if !source.exists() {
        anyhow::bail!("{} does not exist: nothing to back up", source.display());
    }
    let file = args.file.display().to_string();
    if args.file.exists() && !args.force {
        anyhow::bail!(messages::backup_exists(&file));
    }
    let source_name = source.display().to_string();
    match SqliteStore::inspect(&source)
        .await
        .with_context(|| format!("cannot read {source_name}"))?
    {
        SqliteContents::Tentacle { .. } => {}
        SqliteContents::Other => anyhow::bail!(messages::not_a_tentacle_database(&source_name)),
    }
    let partial = partial_beside(&args.file, "partial");
    let _ = std::fs::remove_file(&partial);
    let schema_version = SqliteStore::back_up(&source, &partial)
        .await
        .with_context(|| format!("cannot back up {}", source.display()))?;
    // Without --force the copy takes the name only if nobody else did meanwhile.
    let placed = if args.force {
        std::fs::rename(&partial, &args.file)
    } else {
        std::fs::hard_link(&partial, &args.file)
    };
    let _ = std::fs::remove_file(&partial);
    match placed {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            anyhow::bail!(messages::backup_exists(&file))
        }
        other => other.with_context(|| format!("cannot write {file}"))?,
    }
    let key = key_source(db);
    println!(
        "{}",
        serde_json::json!({"backup": file, "schema_version": schema_version, "key": key.location()})
    );
    eprintln!("{}", messages::backup_written(&file, schema_version, &key));
    Ok(ExitCode::SUCCESS)
}

/// Whether `path` starts like every SQLite database file.
fn is_sqlite_file(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path)?;
    Ok(file.read_exact(&mut header).is_ok() && &header == b"SQLite format 3\0")
}

pub async fn restore(db: &str, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if is_postgres(db) {
        eprintln!("error: {}", messages::backup_postgres());
        return Ok(ExitCode::FAILURE);
    }
    let target = sqlite_path(db)?;
    let file = args.file.display().to_string();
    let target_name = target.display().to_string();
    if !is_sqlite_file(&args.file).with_context(|| format!("cannot read {file}"))? {
        anyhow::bail!(messages::not_a_sqlite_file(&file));
    }
    let (from_version, from_migrations) = match SqliteStore::inspect(&args.file).await {
        Ok(SqliteContents::Tentacle {
            schema_version,
            migrations,
        }) => (schema_version, migrations),
        Ok(SqliteContents::Other) => anyhow::bail!(messages::not_a_tentacle_database(&file)),
        Err(error) => {
            return Err(anyhow::anyhow!(messages::not_a_sqlite_file(&file)).context(error));
        }
    };
    let known = SqliteStore::known_schema_version();
    if from_version > known {
        anyhow::bail!(messages::backup_schema_too_new(&file, from_version, known));
    }
    let key = key_source(db);
    let master_key = std::env::var("TENTACLE_MASTER_KEY").ok();
    let cipher = match &master_key {
        Some(hex) => Cipher::from_hex(hex).context("TENTACLE_MASTER_KEY")?,
        None => {
            // Never a fresh key: a new key cannot open a backup's secrets.
            let key_file = key_file(db);
            if !key_file.exists() {
                anyhow::bail!(messages::restore_without_key(
                    &key_file.display().to_string()
                ));
            }
            Cipher::load(None, &key_file).context("cannot load the key for stored secrets")?
        }
    };
    if target.exists() {
        if let Some(in_use) = SqliteStore::in_use(&target, chrono::Utc::now())
            .await
            .with_context(|| format!("cannot read {target_name}"))?
        {
            anyhow::bail!(messages::restore_target_in_use(
                &target_name,
                &in_use.holder,
                &in_use.until.to_rfc3339()
            ));
        }
        eprintln!("{}", messages::restore_stop_the_service(&target_name));
    }

    // Checked and migrated as a copy beside the target, then renamed over it in one step: the
    // target is either the old database or the restored one, never half of each.
    let partial = partial_beside(&target, "restore");
    remove_database_files(&partial);
    let outcome = prepare(&args.file, &partial, cipher, &file, &key).await;
    let (to_version, to_migrations, checked) = match outcome {
        Ok(done) => done,
        Err(error) => {
            remove_database_files(&partial);
            return Err(error);
        }
    };
    // The old database's write-ahead log must not be replayed into the restored file.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&target, suffix));
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move the restored database to {target_name}"))?;
    remove_database_files(&partial);
    println!(
        "{}",
        serde_json::json!({"restored": file, "into": target_name, "schema_version": to_version})
    );
    eprintln!(
        "{}",
        messages::restored(
            &file,
            &target_name,
            to_version,
            to_migrations - from_migrations,
            checked
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies the backup to `partial`, applies pending migrations and checks every stored secret
/// against the key; the schema version and the credentials checked.
async fn prepare(
    backup: &Path,
    partial: &Path,
    cipher: Cipher,
    file: &str,
    key: &KeySource,
) -> anyhow::Result<(i64, i64, usize)> {
    std::fs::copy(backup, partial).with_context(|| format!("cannot copy {file}"))?;
    let url = format!("sqlite://{}", partial.display());
    let store = match SqliteStore::open(&url, cipher).await {
        Ok(store) => store,
        Err(StoreError::SchemaTooNew {
            database_version,
            binary_version,
        }) => anyhow::bail!(messages::backup_schema_too_new(
            file,
            database_version,
            binary_version
        )),
        // The backup's key check value does not open with this key.
        Err(StoreError::WrongKey) => anyhow::bail!(messages::restore_wrong_key(file, key, &[])),
        Err(error) => return Err(error).with_context(|| format!("cannot open {file}")),
    };
    let check = store.check_secrets().await?;
    // Runs that were working when the backup was taken belong to processes of the old
    // database: queued again at once, instead of holding their configuration until a lease
    // from the past runs out.
    let resumed = messages::run_resumed_after_restore();
    let entry = NewLogEntry {
        at: chrono::Utc::now(),
        level: resumed.level,
        record_kind: None,
        record: None,
        message: resumed.message,
    };
    store
        .reap_expired_runs(&Reap {
            now: chrono::DateTime::<chrono::Utc>::MAX_UTC,
            max_losses: i64::MAX,
            resumed: entry.clone(),
            failed: entry,
        })
        .await?;
    let version = store.schema_version().await?;
    store.close().await?;
    let migrations = match SqliteStore::inspect(partial).await? {
        SqliteContents::Tentacle { migrations, .. } => migrations,
        SqliteContents::Other => 0,
    };
    if !check.undecryptable.is_empty() {
        anyhow::bail!(messages::restore_wrong_key(file, key, &check.undecryptable));
    }
    Ok((version, migrations, check.checked))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_database_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}
