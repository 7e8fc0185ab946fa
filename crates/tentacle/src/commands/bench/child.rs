//! Both sandboxes in a child process (`tentacle sandbox` on free ports), so that what this
//! process uses is tentacle's alone: the sandboxes keep every order they hold in memory, which a
//! measurement of tentacle's memory must not count.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use tentacle_sandbox::pulpo::PulpoStatsSnapshot;
use tentacle_sandbox::shopify::ShopifyStatsSnapshot;

use super::placement::SandboxSetup;
use super::usage::{self, Usage};

/// The running child; killed when dropped, whatever happened to the bench.
pub struct SandboxProcess {
    child: Child,
    pub shop_url: String,
    pub pulpo_url: String,
    http: reqwest::Client,
}

pub const ACCESS_TOKEN: &str = "shpat_sandbox";

impl SandboxProcess {
    /// Starts `tentacle sandbox` and waits until it has printed both addresses.
    pub async fn start(config: SandboxSetup) -> anyhow::Result<SandboxProcess> {
        let exe = std::env::current_exe().context("cannot find the tentacle executable")?;
        let mut command = Command::new(exe);
        command
            .args(["sandbox", "--shopify-listen", "127.0.0.1:0"])
            .args(["--pulpo-listen", "127.0.0.1:0"])
            .args(["--shopify-token", ACCESS_TOKEN])
            .args(["--orders", &config.orders.to_string()])
            .args(["--seed", &config.seed.to_string()])
            .args(["--restore-rate", &config.restore_rate.to_string()])
            .args(["--bucket", &config.bucket.to_string()])
            .args(["--pulpo-latency-ms", &config.pulpo_latency_ms.to_string()])
            .args([
                "--pulpo-item-latency-ms",
                &config.pulpo_item_latency_ms.to_string(),
            ])
            .stdout(Stdio::piped())
            .stdin(Stdio::null());
        if let Some(cap) = config.pulpo_max_concurrency {
            command.args(["--pulpo-max-concurrency", &cap.to_string()]);
        }
        let mut child = command.spawn().context("cannot start `tentacle sandbox`")?;
        let stdout = child.stdout.take().context("no stdout from the child")?;
        // Generating the shop takes a while; read its banner off the runtime's threads.
        let banner = tokio::task::spawn_blocking(move || read_banner(stdout)).await?;
        let (shop_url, pulpo_url) = match banner {
            Ok(urls) => urls,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        Ok(SandboxProcess {
            child,
            shop_url,
            pulpo_url,
            http: reqwest::Client::new(),
        })
    }

    /// The counters of both sandboxes, from their control APIs.
    pub async fn stats(&self) -> anyhow::Result<(ShopifyStatsSnapshot, PulpoStatsSnapshot)> {
        let shopify = self
            .http
            .get(format!("{}/sandbox/stats", self.shop_url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let pulpo_root = self
            .pulpo_url
            .strip_suffix(tentacle_sandbox::pulpo::BASE_PATH)
            .unwrap_or(&self.pulpo_url);
        let pulpo = self
            .http
            .get(format!("{pulpo_root}/sandbox/stats"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok((shopify, pulpo))
    }

    /// What the child used so far.
    pub fn usage(&self) -> anyhow::Result<Usage> {
        usage::of(&self.child.id().to_string())
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Shopify shop URL and the PULPO base URL from `tentacle sandbox`'s banner.
fn read_banner(stdout: std::process::ChildStdout) -> anyhow::Result<(String, String)> {
    let mut shop_url = None;
    let mut pulpo_url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read `tentacle sandbox`'s output")?;
        if let Some(url) = line.strip_prefix("Shopify sandbox") {
            shop_url = Some(url.trim().to_string());
        } else if let Some(url) = line.strip_prefix("PULPO sandbox") {
            pulpo_url = Some(url.trim().to_string());
        }
        // The banner ends here; nothing more is printed, so the pipe can be let go (a write to
        // a closed pipe would end the child).
        if line.starts_with("Serving until") {
            return shop_url
                .zip(pulpo_url)
                .context("the banner lacks an address");
        }
    }
    anyhow::bail!("`tentacle sandbox` exited before printing its addresses")
}
