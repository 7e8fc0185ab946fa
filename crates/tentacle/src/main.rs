//! The `tentacle` command: CLI wiring only. Each subcommand lives in `commands/`.

mod commands;
mod config_file;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tentacle",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TENTACLE_COMMIT"), ")"),
    about = "Keeps a Shopify store and a PULPO WMS warehouse in sync."
)]
struct Cli {
    /// Database URL: `sqlite://tentacle.db` (the key file for stored secrets sits beside it
    /// unless TENTACLE_MASTER_KEY is set) or `postgres://user@host/database` (several processes
    /// on several machines share it; TENTACLE_MASTER_KEY is required).
    #[arg(
        long,
        global = true,
        env = "TENTACLE_DATABASE_URL",
        default_value = "sqlite://tentacle.db"
    )]
    db: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the demo: both sandboxes with sample data, a fresh database, a first sales orders run.
    Demo(commands::demo::DemoArgs),
    /// Create or update credentials and integration configurations from a TOML file.
    Apply(commands::apply::ApplyArgs),
    /// Run one integration now; prints its log as it happens, then a JSON summary line.
    /// Exit code 0 FINISHED, 2 FINISHED_PARTIALLY, 1 FAILED. With --queue, only queue the run
    /// for `tentacle serve` and print it.
    Run(commands::run::RunArgs),
    /// The service: schedule and work on runs until SIGTERM or Ctrl-C (several processes may
    /// share one database); with --listen ADDR also the web UI, the JSON API, /healthz and
    /// /metrics.
    Serve(commands::serve::ServeArgs),
    /// The scheduler, the reaper and the run workers without the web server, until SIGTERM or
    /// Ctrl-C: add these on more machines sharing one PostgreSQL database.
    Worker(commands::serve::WorkerArgs),
    /// Apply pending database migrations and print the schema version (start-up applies them
    /// too; this lets a deployment migrate before rolling out new processes).
    Migrate,
    /// List recent runs, newest first.
    Runs(commands::run::RunsArgs),
    /// Show the log entries of a run.
    Logs(commands::run::LogsArgs),
    /// Manage the web UI's accounts.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// Ask a running `tentacle serve` whether it and its database answer (`/healthz`); exit 0
    /// healthy, 1 not. The container image's health check.
    Healthcheck(commands::health::HealthArgs),
    /// Run the Shopify and PULPO sandboxes (local emulators) until Ctrl-C.
    Sandbox(Box<commands::sandbox::SandboxArgs>),
    /// Measure tentacle and its sandboxes; prints one JSON line per measurement.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

/// Standard error for the server log, with control characters escaped in every line: names
/// and messages in log fields come from Shopify, PULPO and whoever types into a form, and a
/// newline in one would forge a log line, an escape sequence would drive the terminal.
struct EscapedStderr;

impl std::io::Write for EscapedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes one whole event, its newline last.
        let text = String::from_utf8_lossy(buf);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (text.as_ref(), ""),
        };
        let mut stderr = std::io::stderr().lock();
        stderr.write_all(tentacle_domain::text::printable(line).as_bytes())?;
        stderr.write_all(end.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        // No colours: every escape in a line is one that came from outside, and is escaped.
        .with_ansi(false)
        .with_writer(|| EscapedStderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Apply(args) => commands::apply::run(&cli.db, args).await,
            Command::Run(args) => commands::run::run(&cli.db, args).await,
            Command::Serve(args) => commands::serve::run(&cli.db, args).await,
            Command::Worker(args) => commands::serve::worker(&cli.db, args).await,
            Command::Migrate => commands::db::migrate(&cli.db)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Runs(args) => commands::run::runs(&cli.db, args).await,
            Command::Logs(args) => commands::run::logs(&cli.db, args).await,
            Command::User(command) => commands::user::run(&cli.db, command)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Token(command) => commands::token::run(&cli.db, command)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Healthcheck(args) => commands::health::run(args).await,
            Command::Sandbox(args) => commands::sandbox::run(*args)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Bench(command) => commands::bench::run(command)
                .await
                .map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
