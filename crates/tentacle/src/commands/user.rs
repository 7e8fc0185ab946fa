//! `tentacle user create NAME`: a local admin account for the web UI.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password once, unless --password-stdin.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The login name.
    name: String,
    /// Read the password (at least 12 characters) from the first line of stdin instead of
    /// generating one.
    #[arg(long)]
    password_stdin: bool,
}

pub async fn run(db: &str, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create(args) => {
            let (password, generated) = if args.password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from stdin")?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (tentacle_web::users::generate_password()?, true)
            };
            let store = super::db::open(db).await?;
            tentacle_web::users::create_user(store.as_ref(), &args.name, &password)
                .await
                .with_context(|| format!("cannot create the user {:?}", args.name))?;
            if generated {
                eprintln!(
                    "User {:?} created. Its password is shown only now; log in to the web UI with it:",
                    args.name
                );
                println!("{password}");
            } else {
                eprintln!("User {:?} created.", args.name);
            }
            Ok(())
        }
    }
}
