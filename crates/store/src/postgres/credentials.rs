//! Credentials: secrets sealed with the cipher, the name and kind as their AAD.

use async_trait::async_trait;
use chrono::Utc;

use super::PgStore;
use crate::rows::{conflict, create_conflict, credential_from_row, secrets_aad};
use crate::{Credential, CredentialStore, NewCredential, Result, StoreError};

#[async_trait]
impl CredentialStore for PgStore {
    async fn save_credential(&self, credential: NewCredential) -> Result<Credential> {
        let sealed = self.cipher.encrypt(
            &credential.secrets.to_plain_json(),
            &secrets_aad(&credential.name, credential.kind),
        );
        let row = sqlx::query(
            "INSERT INTO credentials (name, kind, config, secrets, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config,
                 secrets = excluded.secrets, updated_at = excluded.updated_at
             RETURNING *",
        )
        .bind(&credential.name)
        .bind(credential.kind.as_str())
        .bind(credential.config.to_string())
        .bind(sealed)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await?;
        credential_from_row(&self.cipher, &row)
    }

    async fn create_credential(&self, credential: NewCredential) -> Result<Credential> {
        let sealed = self.cipher.encrypt(
            &credential.secrets.to_plain_json(),
            &secrets_aad(&credential.name, credential.kind),
        );
        // No ON CONFLICT: the unique index on the name decides between two creates at once.
        let row = sqlx::query(
            "INSERT INTO credentials (name, kind, config, secrets, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             RETURNING *",
        )
        .bind(&credential.name)
        .bind(credential.kind.as_str())
        .bind(credential.config.to_string())
        .bind(sealed)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| {
            create_conflict(
                error,
                || format!("a credential named {:?} exists already", credential.name),
                String::new,
            )
        })?;
        credential_from_row(&self.cipher, &row)
    }

    async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        let row = sqlx::query("SELECT * FROM credentials WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| credential_from_row(&self.cipher, &r))
            .transpose()
    }

    async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>> {
        let row = sqlx::query("SELECT * FROM credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| credential_from_row(&self.cipher, &r))
            .transpose()
    }

    async fn credentials(&self) -> Result<Vec<Credential>> {
        let rows = sqlx::query("SELECT * FROM credentials ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| credential_from_row(&self.cipher, r))
            .collect()
    }

    async fn update_credential(&self, id: i64, credential: NewCredential) -> Result<Credential> {
        // The name and kind are the AAD of the secrets, so they are sealed again with them.
        let sealed = self.cipher.encrypt(
            &credential.secrets.to_plain_json(),
            &secrets_aad(&credential.name, credential.kind),
        );
        let row = sqlx::query(
            "UPDATE credentials SET name = $2, kind = $3, config = $4, secrets = $5, updated_at = $6
             WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(&credential.name)
        .bind(credential.kind.as_str())
        .bind(credential.config.to_string())
        .bind(sealed)
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| {
            conflict(e, || {
                format!("another credential is named {:?}", credential.name)
            })
        })?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("credential {id}"),
        })?;
        credential_from_row(&self.cipher, &row)
    }

    async fn delete_credential(&self, id: i64) -> Result<bool> {
        let result = sqlx::query("DELETE FROM credentials WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                conflict(e, || {
                    format!("credential {id} is still used by an integration, imported orders, shipped boxes, status updates or returns")
                })
            })?;
        Ok(result.rows_affected() > 0)
    }
}
