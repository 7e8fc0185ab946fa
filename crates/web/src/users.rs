//! Local admin accounts of the web UI: made with `tentacle user create NAME` (or by the demo),
//! passwords hashed with argon2id and checked in constant time by the argon2 crate.

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tentacle_store::{Store, User};

/// Longest user name.
pub const MAX_NAME_CHARS: usize = 100;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the user name must not be empty")]
    EmptyName,
    #[error(
        "the user name must have at most {MAX_NAME_CHARS} characters and no control characters"
    )]
    BadName,
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("the system gave no random bytes: {0}")]
    Random(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] tentacle_store::StoreError),
}

/// A random password of 20 characters from an alphabet without look-alikes.
pub fn generate_password() -> Result<String, UserError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| UserError::Random(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| UserError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string; a corrupt hash never matches.
pub fn verify_password(password: &str, password_hash: &str) -> bool {
    verify_password_in(password, password_hash, &mut Vec::new())
}

/// [`verify_password`] in the caller's memory: argon2id needs `m` KiB of blocks (19 MiB by
/// default); reusing them keeps a burst of logins from leaving the allocator holding one copy
/// per login long after they are done (seen: 750 MiB after 400 parallel logins, four at a time).
/// `memory` grows to what the hash asks and is kept for the next call.
pub fn verify_password_in(password: &str, password_hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(password_hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&hash),
        Algorithm::try_from(hash.algorithm.as_str()),
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut computed = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut computed,
            &mut memory[..blocks],
        )
        .is_ok()
        && same_bytes(&computed, expected.as_ref())
}

/// Equal byte strings, compared in time independent of where they differ.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sets the password of the account `name` and ends all its sessions; `false` when there is no
/// such account.
pub async fn change_password(
    store: &dyn Store,
    name: &str,
    password: &str,
) -> Result<bool, UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::ShortPassword);
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))??;
    Ok(store.set_user_password(name.trim(), &hash).await?)
}

/// Creates the account `name` with `password`.
pub async fn create_user(store: &dyn Store, name: &str, password: &str) -> Result<User, UserError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UserError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(UserError::BadName);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::ShortPassword);
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))??;
    Ok(store.create_user(name, &hash).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", "not a phc string"));
        let mut memory = Vec::new();
        assert!(verify_password_in(
            "correct horse battery",
            &hash,
            &mut memory
        ));
        assert!(!verify_password_in(
            "correct horse battery!",
            &hash,
            &mut memory
        ));
        assert!(!verify_password_in(
            "anything",
            "not a phc string",
            &mut memory
        ));
        assert_eq!(memory.len(), 19 * 1024, "19 MiB of 1 KiB blocks, kept");
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let one = generate_password().expect("password");
        let two = generate_password().expect("password");
        assert_eq!(one.chars().count(), 20);
        assert_ne!(one, two);
    }
}
