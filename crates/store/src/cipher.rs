//! Encryption at rest for credential secrets (AES-256-GCM).
//!
//! Stored format: `[1-byte key version][12-byte random nonce][ciphertext + tag]`. The additional
//! authenticated data is the credential's name and kind, so a ciphertext copied onto another
//! credential row fails to decrypt instead of silently lending its secrets.
//!
//! The key comes from `TENTACLE_MASTER_KEY` (64 hex characters) or from a key file created with
//! mode 0600 beside the database on first start. It is never stored in the database.

use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use secrecy::{ExposeSecret, SecretBox};

const KEY_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Why a key could not be loaded or a value could not be decrypted. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("TENTACLE_MASTER_KEY must be 64 hexadecimal characters (a 256-bit key)")]
    BadKeyFormat,
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the key file {path} is corrupt: it must hold the key as 64 hexadecimal characters; restore it from your backup"
    )]
    CorruptKeyFile { path: String },
    #[error(
        "the key file {path} may be read or written by others (mode {mode:04o}): run `chmod 600 {path}`, and treat the key as exposed if others could read it"
    )]
    KeyFileOpen { path: String, mode: u32 },
    #[error(
        "stored secrets cannot be decrypted with this key (wrong TENTACLE_MASTER_KEY or key file?)"
    )]
    Decrypt,
    #[error("stored secrets use key version {0}, which this tentacle does not know")]
    UnknownVersion(u8),
}

/// The master key and the cipher built from it.
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

/// What the key check value holds; its AAD keeps it from being any other row's ciphertext.
const KEY_CHECK_PLAINTEXT: &[u8] = b"tentacle master key check v1";
const KEY_CHECK_AAD: &[u8] = b"key_check";

impl Cipher {
    /// A new key check value: stored once per database, see [`Cipher::opens_key_check`].
    pub fn key_check(&self) -> Vec<u8> {
        self.encrypt(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
    }

    /// Whether `stored` is a key check value made with this key.
    pub fn opens_key_check(&self, stored: &[u8]) -> bool {
        self.decrypt(stored, KEY_CHECK_AAD)
            .is_ok_and(|plain| plain.expose_secret() == KEY_CHECK_PLAINTEXT)
    }

    pub fn from_key(key: &SecretBox<[u8; 32]>) -> Cipher {
        Cipher {
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose_secret())),
        }
    }

    /// A fresh random key, for a database that lives only in memory.
    pub fn ephemeral() -> Cipher {
        Cipher {
            aead: Aes256Gcm::new(&Aes256Gcm::generate_key(OsRng)),
        }
    }

    /// Parses a key given as 64 hex characters.
    pub fn from_hex(hex_key: &str) -> Result<Cipher, CipherError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| CipherError::BadKeyFormat)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CipherError::BadKeyFormat)?;
        Ok(Cipher::from_key(&SecretBox::new(Box::new(key))))
    }

    /// `TENTACLE_MASTER_KEY` when set, else the key file at `key_file`, created with a fresh
    /// random key and mode 0600 when it does not exist.
    pub fn load(master_key: Option<&str>, key_file: &Path) -> Result<Cipher, CipherError> {
        if let Some(hex_key) = master_key {
            return Cipher::from_hex(hex_key);
        }
        let file_error = |source| CipherError::KeyFile {
            path: key_file.display().to_string(),
            source,
        };
        match std::fs::read_to_string(key_file) {
            Ok(contents) => Cipher::from_hex(&contents),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Aes256Gcm::generate_key(OsRng);
                write_private(key_file, &hex::encode(key)).map_err(file_error)?;
                Ok(Cipher {
                    aead: Aes256Gcm::new(&key),
                })
            }
            Err(error) => Err(file_error(error)),
        }
    }

    /// A new random key, and the cipher built from it: [`Cipher::write_key_file`] keeps it.
    pub fn generate() -> (Cipher, SecretBox<[u8; 32]>) {
        let key: [u8; 32] = Aes256Gcm::generate_key(OsRng).into();
        let key = SecretBox::new(Box::new(key));
        (Cipher::from_key(&key), key)
    }

    /// Writes `key` to a new file at `path`, mode 0600; never over an existing file.
    pub fn write_key_file(path: &Path, key: &SecretBox<[u8; 32]>) -> Result<(), CipherError> {
        write_private(path, &hex::encode(key.expose_secret())).map_err(|source| {
            CipherError::KeyFile {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// The key in the file at `path`: `Ok(None)` when there is no file. Refuses a file others
    /// may read or write, and names the file when it does not hold a key.
    pub fn read_key_file(path: &Path) -> Result<Option<Cipher>, CipherError> {
        let shown = || path.display().to_string();
        let contents = match std::fs::read_to_string(path) {
            Ok(contents) => contents,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CipherError::KeyFile {
                    path: shown(),
                    source,
                });
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| CipherError::KeyFile {
                    path: shown(),
                    source,
                })?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(CipherError::KeyFileOpen {
                    path: shown(),
                    mode,
                });
            }
        }
        Cipher::from_hex(&contents)
            .map(Some)
            .map_err(|_| CipherError::CorruptKeyFile { path: shown() })
    }

    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(KEY_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, stored: &[u8], aad: &[u8]) -> Result<SecretBox<[u8]>, CipherError> {
        let (&version, rest) = stored.split_first().ok_or(CipherError::Decrypt)?;
        if version != KEY_VERSION {
            return Err(CipherError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN {
            return Err(CipherError::Decrypt);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| CipherError::Decrypt)?;
        Ok(SecretBox::new(plain.into_boxed_slice()))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let cipher = Cipher::from_hex(&"ab".repeat(32)).unwrap();
        let sealed = cipher.encrypt(b"shpat_secret", b"shopify:shop");
        assert!(
            !sealed.windows(12).any(|w| w == b"shpat_secret"),
            "no plaintext in the ciphertext"
        );
        let opened = cipher.decrypt(&sealed, b"shopify:shop").unwrap();
        assert_eq!(opened.expose_secret(), b"shpat_secret");
        assert!(matches!(
            cipher.decrypt(&sealed, b"shopify:other"),
            Err(CipherError::Decrypt)
        ));
        let other = Cipher::from_hex(&"cd".repeat(32)).unwrap();
        assert!(matches!(
            other.decrypt(&sealed, b"shopify:shop"),
            Err(CipherError::Decrypt)
        ));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let error = Cipher::from_hex("not-hex").unwrap_err();
        assert_eq!(error.to_string(), CipherError::BadKeyFormat.to_string());
        assert!(matches!(
            Cipher::from_hex(&"ab".repeat(16)),
            Err(CipherError::BadKeyFormat)
        ));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tentacle.key");
        let first = Cipher::load(None, &path).unwrap();
        let sealed = first.encrypt(b"pw", b"aad");
        let second = Cipher::load(None, &path).unwrap();
        assert_eq!(
            second.decrypt(&sealed, b"aad").unwrap().expose_secret(),
            b"pw"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
