//! `tentacle token create NAME`: an API token for `Authorization: Bearer …`.

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name saying who or what uses the token.
    name: String,
}

pub async fn run(db: &str, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => {
            let store = super::db::open(db).await?;
            let token = tentacle_web::auth::issue_token(store.as_ref(), &args.name)
                .await
                .with_context(|| format!("cannot create the token {:?}", args.name))?;
            eprintln!(
                "API token {:?} created. It is shown only now; send it as `Authorization: Bearer <token>`:",
                args.name
            );
            println!("{token}");
            Ok(())
        }
    }
}
