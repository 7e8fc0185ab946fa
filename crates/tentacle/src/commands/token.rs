//! `tentacle token create|list|revoke`: API tokens for `Authorization: Bearer …`.

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::{Args, Subcommand, ValueEnum};
use tentacle_store::TokenScope;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create(CreateArgs),
    /// List the tokens: name, scope, created, expires, last used (never the token).
    List,
    /// Revoke a token: requests with it are refused from now on.
    Revoke(RevokeArgs),
}

/// What a token may do.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scope {
    /// `GET /metrics` only: for Prometheus.
    Metrics,
    /// Every GET of the API and /metrics, never a change: for dashboards and reports.
    Read,
    /// Everything, tokens included.
    Admin,
}

impl From<Scope> for TokenScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Metrics => TokenScope::Metrics,
            Scope::Read => TokenScope::Read,
            Scope::Admin => TokenScope::Admin,
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name saying who or what uses the token.
    name: String,
    /// What the token may do: the least its user needs.
    #[arg(long, value_enum, default_value_t = Scope::Admin)]
    scope: Scope,
    /// Refuse the token after this many days (1 to 3650); without it, it does not expire.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=tentacle_web::tokens::MAX_EXPIRY_DAYS))]
    expires_days: Option<i64>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token's name.
    name: String,
}

pub async fn run(db: &str, command: TokenCommand) -> anyhow::Result<()> {
    let store = super::db::open(db).await?;
    match command {
        TokenCommand::Create(args) => {
            let expires_at = args.expires_days.map(|d| Utc::now() + TimeDelta::days(d));
            let token = tentacle_web::auth::issue_scoped_token(
                store.as_ref(),
                &args.name,
                args.scope.into(),
                expires_at,
            )
            .await
            .with_context(|| format!("cannot create the token {:?}", args.name))?;
            eprintln!(
                "API token {:?} created (scope {}{}). It is shown only now; send it as `Authorization: Bearer <token>`:",
                args.name,
                TokenScope::from(args.scope),
                expires_at.map_or(String::new(), |at| format!(
                    ", expires {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                ))
            );
            println!("{token}");
        }
        TokenCommand::List => {
            println!(
                "{:<24} {:<8} {:<17} {:<17} {:<17}",
                "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED"
            );
            let when = |at: Option<chrono::DateTime<Utc>>, none: &str| {
                at.map_or(none.to_string(), |at| {
                    at.format("%Y-%m-%d %H:%M").to_string()
                })
            };
            for token in store.api_tokens().await? {
                println!(
                    "{:<24} {:<8} {:<17} {:<17} {:<17}",
                    tentacle_domain::text::printable(&token.name),
                    token.scope.as_str(),
                    when(Some(token.created_at), ""),
                    when(token.expires_at, "never"),
                    when(token.last_used_at, "never"),
                );
            }
        }
        TokenCommand::Revoke(args) => {
            if !store.revoke_api_token(&args.name).await? {
                anyhow::bail!(
                    "no API token named {:?} (see `tentacle token list`)",
                    args.name
                );
            }
            eprintln!(
                "API token {:?} revoked: requests with it are refused from now on.",
                args.name
            );
        }
    }
    Ok(())
}
