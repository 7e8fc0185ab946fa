//! What `tentacle backup` and `tentacle restore` tell the operator: where the key is, and why a
//! copy is refused with what to do. Never a key or a secret, only where the key comes from.

use crate::run::LogEntry;

/// Where the key for stored secrets comes from, as the operator knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TENTACLE_MASTER_KEY` in the environment.
    Environment,
    /// The key file beside the database.
    File(String),
}

impl KeySource {
    /// The variable's name or the file's path, for machine-readable output.
    pub fn location(&self) -> &str {
        match self {
            KeySource::Environment => "TENTACLE_MASTER_KEY",
            KeySource::File(path) => path,
        }
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Environment => f.write_str("TENTACLE_MASTER_KEY (the environment variable)"),
            KeySource::File(path) => write!(f, "the key file {path}"),
        }
    }
}

/// After a backup: the copy holds the secrets encrypted, never the key.
pub fn backup_written(file: &str, schema_version: i64, key: &KeySource) -> String {
    format!(
        "Backup written to {file} (schema version {schema_version}). The key for its stored \
         secrets is NOT in it: the key is {key}. Back that up too, separately from the backup \
         (whoever holds both can read the secrets); without it a restored database cannot use \
         its credentials."
    )
}

/// `backup` of a PostgreSQL database: its own tools do it.
pub fn backup_postgres() -> String {
    "tentacle backup copies SQLite databases only. Back up PostgreSQL with its own tools, e.g. \
     `pg_dump --format=custom --file=tentacle.dump \"$TENTACLE_DATABASE_URL\"` (consistent while \
     tentacle runs) and restore with `pg_restore --clean --dbname=…`, as the README's \"Backup \
     and restore\" says; keep TENTACLE_MASTER_KEY with it, separately."
        .to_string()
}

pub fn backup_exists(file: &str) -> String {
    format!("{file} already exists: choose another file, or pass --force to replace it")
}

pub fn not_a_sqlite_file(file: &str) -> String {
    format!("{file} is not a SQLite database file: nothing was restored")
}

pub fn not_a_tentacle_database(file: &str) -> String {
    format!("{file} is a SQLite database but not a tentacle one (no tentacle tables)")
}

pub fn backup_schema_too_new(file: &str, backup_version: i64, known_version: i64) -> String {
    format!(
        "{file} has schema version {backup_version}, newer than this tentacle's migrations (up to \
         {known_version}): restore it with the tentacle release that made it (or a newer one); \
         nothing was restored"
    )
}

pub fn restore_without_key(key_file: &str) -> String {
    format!(
        "no key for the stored secrets: put the key file you backed up with the database at \
         {key_file}, or set TENTACLE_MASTER_KEY; nothing was restored"
    )
}

pub fn restore_wrong_key(file: &str, key: &KeySource, credentials: &[String]) -> String {
    let which = if credentials.is_empty() {
        String::new()
    } else {
        format!(" (credentials {})", credentials.join(", "))
    };
    format!(
        "the secrets in {file} cannot be decrypted with {key}{which}: it is not the key \
         this backup was made with. Restore with the key that was backed up with it (put that \
         key file in place or set TENTACLE_MASTER_KEY to it); nothing was restored"
    )
}

pub fn restore_target_in_use(target: &str, holder: &str, until: &str) -> String {
    format!(
        "{target} is in use: {holder} holds a lease on it until {until}. Stop every tentacle \
         serve and worker process using it, then restore again; nothing was restored"
    )
}

pub fn restore_stop_the_service(target: &str) -> String {
    format!(
        "Restoring into {target}: no tentacle process holds a lease on it; a process that \
         holds none cannot be seen, so make sure none is running on it."
    )
}

pub fn restored(
    file: &str,
    target: &str,
    schema_version: i64,
    migrations_applied: i64,
    checked: usize,
) -> String {
    let migrated = match migrations_applied {
        0 => format!("schema version {schema_version}"),
        1 => format!("schema version {schema_version}, 1 pending migration applied"),
        n => format!("schema version {schema_version}, {n} pending migrations applied"),
    };
    let secrets = match checked {
        0 => "no credential stores secrets yet".to_string(),
        1 => "the key opens the secrets of its 1 credential".to_string(),
        n => format!("the key opens the secrets of all {n} credentials"),
    };
    format!("Restored {file} into {target} ({migrated}); {secrets}. Start tentacle again.")
}

/// WARNING (run): the database was restored from a backup taken while this run worked; the
/// process that ran it belongs to the old database, so the run goes back to the queue.
pub fn run_resumed_after_restore() -> LogEntry {
    LogEntry::warning(
        None,
        "The database was restored from a backup taken while this run worked; the run resumes \
         from its last committed point in the backup (work done after the backup is looked up \
         again, not trusted)",
    )
}
