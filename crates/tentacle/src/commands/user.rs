//! `tentacle user create|password|delete|logout`: the web UI's local admin accounts.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password once, unless --password-stdin.
    Create(PasswordArgs),
    /// Set an account's new password (generated and printed once, unless --password-stdin)
    /// and end all its sessions.
    Password(PasswordArgs),
    /// Delete an account and end its sessions.
    Delete(NameArgs),
    /// End every session of an account ("log out everywhere").
    Logout(NameArgs),
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The login name.
    name: String,
    /// Read the password (at least 12 characters) from the first line of stdin instead of
    /// generating one.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The login name.
    name: String,
}

fn password(args: &PasswordArgs) -> anyhow::Result<(String, bool)> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
    } else {
        Ok((tentacle_web::users::generate_password()?, true))
    }
}

pub async fn run(db: &str, command: UserCommand) -> anyhow::Result<()> {
    let store = super::db::open(db).await?;
    match command {
        UserCommand::Create(args) => {
            let (password, generated) = password(&args)?;
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
        }
        UserCommand::Password(args) => {
            let (password, generated) = password(&args)?;
            let changed =
                tentacle_web::users::change_password(store.as_ref(), &args.name, &password)
                    .await
                    .with_context(|| format!("cannot change the password of {:?}", args.name))?;
            if !changed {
                anyhow::bail!("no user named {:?}", args.name);
            }
            eprintln!(
                "Password of {:?} changed; its sessions have ended.{}",
                args.name,
                if generated {
                    " The new password is shown only now:"
                } else {
                    ""
                }
            );
            if generated {
                println!("{password}");
            }
        }
        UserCommand::Delete(args) => {
            if !store.delete_user(&args.name).await? {
                anyhow::bail!("no user named {:?}", args.name);
            }
            eprintln!("User {:?} deleted; its sessions have ended.", args.name);
        }
        UserCommand::Logout(args) => {
            let user = store
                .user_by_name(&args.name)
                .await?
                .with_context(|| format!("no user named {:?}", args.name))?;
            let ended = store.delete_user_sessions(user.id).await?;
            eprintln!("{ended} session(s) of {:?} ended.", args.name);
        }
    }
    Ok(())
}
