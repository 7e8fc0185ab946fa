//! `tentacle healthcheck`: asks a running `tentacle serve` whether it and its database answer.
//! Container runtimes and supervisors run it as their health probe, so the runtime image needs
//! no curl or shell.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The `/healthz` address of the `tentacle serve` to ask.
    #[arg(
        long,
        env = "TENTACLE_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8200/healthz"
    )]
    url: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5)]
    timeout_seconds: u64,
}

/// Exit 0 when `/healthz` answers 200 (the process serves and its database answers), else 1
/// with the reason on standard error.
pub async fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_seconds.max(1)))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    match client.get(&args.url).send().await {
        Ok(answer) if answer.status().is_success() => {
            println!("healthy: {} answered {}", args.url, answer.status());
            Ok(ExitCode::SUCCESS)
        }
        Ok(answer) => {
            eprintln!(
                "unhealthy: {} answered {} (503: the database does not answer)",
                args.url,
                answer.status()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!(
                "unhealthy: {} does not answer ({})",
                args.url,
                if error.is_timeout() {
                    "timed out"
                } else {
                    "no connection"
                }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
