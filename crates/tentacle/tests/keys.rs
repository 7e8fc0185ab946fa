//! The master key guarded as an operator's mistakes and an attacker would test it: a key file
//! lost beside a database full of secrets, another database's key, a corrupt key file, a key
//! file others can read, a wrong TENTACLE_MASTER_KEY; and the files' modes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tentacle");

async fn tentacle(db: &str, args: &[&str], master_key: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL");
    if let Some(key) = master_key {
        command.env("TENTACLE_MASTER_KEY", key);
    }
    command.output().await.expect("tentacle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A database with a secret in it (a credential saved by `apply`), and its key file.
async fn database_with_a_secret(dir: &Path) -> (String, std::path::PathBuf) {
    let db = format!("sqlite://{}/tentacle.db", dir.display());
    let file = dir.join("tentacle.toml");
    std::fs::write(
        &file,
        r#"
[[credentials]]
name = "shop"
type = "shopify"
shop_url = "https://example.myshopify.com"
access_token = "shpat_the_secret"
"#,
    )
    .expect("write");
    let applied = tentacle(&db, &["apply", "-f", file.to_str().expect("path")], None).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    (db, dir.join("tentacle.key"))
}

#[tokio::test]
async fn new_files_are_private_to_their_owner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, key) = database_with_a_secret(dir.path()).await;
    assert_eq!(mode(&key), 0o600, "the key file");
    assert_eq!(mode(&dir.path().join("tentacle.db")), 0o600, "the database");
    for suffix in ["-wal", "-shm"] {
        let file = dir.path().join(format!("tentacle.db{suffix}"));
        if file.exists() {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    // A database file left readable by others is made private at the next start.
    let db_file = dir.path().join("tentacle.db");
    std::fs::set_permissions(&db_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let db = format!("sqlite://{}", db_file.display());
    assert!(tentacle(&db, &["runs"], None).await.status.success());
    assert_eq!(mode(&db_file), 0o600);
}

#[tokio::test]
async fn a_missing_key_file_is_refused_and_no_new_key_is_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, key) = database_with_a_secret(dir.path()).await;
    let saved = std::fs::read(&key).expect("key");
    std::fs::remove_file(&key).expect("lose the key");
    let refused = tentacle(&db, &["runs"], None).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains(&format!("the key file {} is missing", key.display()))
            && said.contains("restore"),
        "{said}"
    );
    assert!(!key.exists(), "no new key beside the old secrets");
    // With its key back, the database opens as before.
    std::fs::write(&key, saved).expect("restore");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(tentacle(&db, &["runs"], None).await.status.success());
}

#[tokio::test]
async fn another_databases_key_and_a_wrong_master_key_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, key) = database_with_a_secret(dir.path()).await;
    let other = tempfile::tempdir().expect("temp dir");
    let (_, other_key) = database_with_a_secret(other.path()).await;
    std::fs::copy(&other_key, &key).expect("the wrong key");
    let refused = tentacle(&db, &["runs"], None).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains(&format!(
            "the key in {} is not the key of the database",
            key.display()
        )),
        "{said}"
    );

    let wrong = "ab".repeat(32);
    let refused = tentacle(&db, &["runs"], Some(&wrong)).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("TENTACLE_MASTER_KEY is not the key of the database"),
        "{said}"
    );
    assert!(!said.contains(&wrong), "the key is never printed");
}

#[tokio::test]
async fn a_corrupt_or_exposed_key_file_is_named_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, key) = database_with_a_secret(dir.path()).await;
    let good = std::fs::read(&key).expect("key");

    std::fs::write(&key, "not a key at all").expect("corrupt");
    let refused = tentacle(&db, &["runs"], None).await;
    let said = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        said.contains(&format!("the key file {} is corrupt", key.display())),
        "{said}"
    );
    assert!(!said.contains("TENTACLE_MASTER_KEY must be"), "{said}");

    std::fs::write(&key, good).expect("restore");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let refused = tentacle(&db, &["runs"], None).await;
    let said = text(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        said.contains("may be read or written by others (mode 0644)")
            && said.contains(&format!("chmod 600 {}", key.display())),
        "{said}"
    );
}
