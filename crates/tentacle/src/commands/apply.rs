//! `tentacle apply -f tentacle.toml`: provision credentials, configurations and alert channels,
//! idempotently.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tentacle_store::{NewAlertChannel, NewIntegration};

use crate::config_file;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The TOML file with `[[credentials]]`, `[[integrations]]` and `[[alerts]]`.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
}

pub async fn run(db: &str, args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let file = match config_file::parse(&text, &|name| std::env::var(name).ok()) {
        Ok(file) => file,
        Err(errors) => {
            eprintln!("{} is refused; nothing was saved:", args.file.display());
            for error in errors {
                eprintln!("  {error}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let store = super::db::open(db).await?;

    // Resolve every reference before saving anything, so a bad file changes nothing.
    let mut problems = Vec::new();
    for integration in &file.integrations {
        // The file's reader checked the type exists.
        let Some(declared) = tentacle_engine::find(&integration.kind) else {
            continue;
        };
        for (field, name, expected) in [
            ("origin", &integration.origin, declared.origin()),
            (
                "destination",
                &integration.destination,
                declared.destination(),
            ),
        ] {
            let kind = match file.credentials.iter().find(|c| &c.name == name) {
                Some(credential) => Some(credential.kind),
                None => store.credential_by_name(name).await?.map(|c| c.kind),
            };
            match kind {
                None => problems.push(format!("integration {:?}: {field} credential {name:?} is neither in the file nor in the database", integration.name)),
                Some(kind) if kind != expected => problems.push(format!(
                    "integration {:?}: {field} credential {name:?} is {}, it must be {}",
                    integration.name,
                    kind.as_str(),
                    expected.as_str()
                )),
                Some(_) => {}
            }
        }
    }
    for alert in &file.alerts {
        for name in alert.integrations.iter().flatten() {
            let in_file = file.integrations.iter().any(|i| &i.name == name);
            if !in_file && store.integration_by_name(name).await?.is_none() {
                problems.push(format!(
                    "alert {:?}: configuration {name:?} is neither in the file nor in the database",
                    alert.name
                ));
            }
        }
    }
    if !problems.is_empty() {
        eprintln!("{} is refused; nothing was saved:", args.file.display());
        for problem in problems {
            eprintln!("  {problem}");
        }
        return Ok(ExitCode::FAILURE);
    }

    for credential in file.credentials {
        let existed = store.credential_by_name(&credential.name).await?.is_some();
        let saved = store.save_credential(credential).await?;
        println!(
            "credential {:?} ({}): {}",
            saved.name,
            saved.kind.as_str(),
            if existed { "updated" } else { "created" }
        );
        if let Some(note) =
            tentacle_engine::connections::api_version_note(&saved, chrono::Utc::now().date_naive())
        {
            eprintln!("warning: credential {:?}: {note}", saved.name);
        }
    }
    for integration in file.integrations {
        let origin = store
            .credential_by_name(&integration.origin)
            .await?
            .context("origin credential vanished")?;
        let destination = store
            .credential_by_name(&integration.destination)
            .await?
            .context("destination credential vanished")?;
        let existed = store
            .integration_by_name(&integration.name)
            .await?
            .is_some();
        let saved = store
            .save_integration(NewIntegration {
                name: integration.name,
                kind: integration.kind,
                origin_credential_id: origin.id,
                destination_credential_id: destination.id,
                settings: integration.settings,
            })
            .await?;
        println!(
            "integration {:?} ({}): {}",
            saved.name,
            saved.kind,
            if existed { "updated" } else { "created" }
        );
    }
    for alert in file.alerts {
        let integration_ids = match &alert.integrations {
            None => None,
            Some(names) => {
                let mut ids = Vec::with_capacity(names.len());
                for name in names {
                    let integration = store
                        .integration_by_name(name)
                        .await?
                        .with_context(|| format!("configuration {name:?} vanished"))?;
                    ids.push(integration.id);
                }
                Some(ids)
            }
        };
        let existing = store.alert_channel_by_name(&alert.name).await?;
        let saved = store
            .save_alert_channel(NewAlertChannel {
                name: alert.name,
                target: alert.target,
                // A file without the password keeps the stored one, as the API does.
                password: alert
                    .password
                    .or_else(|| existing.as_ref().and_then(|e| e.password.clone())),
                integration_ids,
                stale_after_hours: alert.stale_after_hours,
            })
            .await?;
        println!(
            "alert {:?} ({}): {}",
            saved.name,
            saved.target.kind(),
            if existing.is_some() {
                "updated"
            } else {
                "created"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
