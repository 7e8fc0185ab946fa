//! Where a run benchmark's sandboxes live, and the bound their limits set: what
//! `bench sales-orders` and `bench stock` share.
//!
//! The sandboxes run in this process (the default) or, with `--sandboxes child-process`, in a
//! `tentacle sandbox` child: they hold every order and item in memory, so only then are this
//! process's peak memory and CPU time tentacle's own. The child's are reported beside them.

use clap::ValueEnum;
use serde_json::json;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox, PulpoStatsSnapshot};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox, ShopifyStatsSnapshot};

use super::child::{self, SandboxProcess};

/// Where the sandboxes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Placement {
    /// In this process, over real HTTP.
    InProcess,
    /// In a `tentacle sandbox` child process, so this process's memory and CPU are tentacle's.
    ChildProcess,
}

/// What the sandboxes are started with, wherever they run.
pub struct SandboxSetup {
    /// Generated Shopify orders.
    pub orders: usize,
    pub seed: u64,
    pub restore_rate: f64,
    pub bucket: f64,
    pub pulpo_latency_ms: u64,
    pub pulpo_item_latency_ms: u64,
    pub pulpo_max_concurrency: Option<usize>,
}

/// The two sandboxes a run talks to, wherever they run.
pub enum Sandboxes {
    InProcess {
        shopify: Box<ShopifySandbox>,
        pulpo: Box<PulpoSandbox>,
    },
    Child(SandboxProcess),
}

impl Sandboxes {
    pub async fn start(placement: Placement, setup: SandboxSetup) -> anyhow::Result<Sandboxes> {
        if placement == Placement::ChildProcess {
            return Ok(Sandboxes::Child(SandboxProcess::start(setup).await?));
        }
        let local = "127.0.0.1:0".parse()?;
        let shopify = ShopifySandbox::start(ShopifyConfig {
            listen: local,
            seed: setup.seed,
            orders: setup.orders,
            bucket: setup.bucket,
            restore_rate: setup.restore_rate,
            ..ShopifyConfig::default()
        })
        .await?;
        let pulpo = PulpoSandbox::start(PulpoConfig {
            listen: local,
            seed: setup.seed,
            latency_ms: setup.pulpo_latency_ms,
            item_latency_ms: setup.pulpo_item_latency_ms,
            max_concurrency: setup.pulpo_max_concurrency,
            ..PulpoConfig::default()
        })
        .await?;
        Ok(Sandboxes::InProcess {
            shopify: Box::new(shopify),
            pulpo: Box::new(pulpo),
        })
    }

    /// `http://127.0.0.1:PORT`: the shop, whose control API is under `/sandbox/`.
    pub fn shop_url(&self) -> String {
        match self {
            Sandboxes::InProcess { shopify, .. } => shopify.shop_url(),
            Sandboxes::Child(child) => child.shop_url.clone(),
        }
    }

    pub fn access_token(&self) -> String {
        match self {
            Sandboxes::InProcess { shopify, .. } => shopify.state.config.access_token.clone(),
            Sandboxes::Child(_) => child::ACCESS_TOKEN.to_string(),
        }
    }

    /// The PULPO API's base URL (`…/api/v1`).
    pub fn pulpo_url(&self) -> String {
        match self {
            Sandboxes::InProcess { pulpo, .. } => pulpo.base_url(),
            Sandboxes::Child(child) => child.pulpo_url.clone(),
        }
    }

    /// `http://127.0.0.1:PORT`: the root of PULPO's control API (`/sandbox/…`).
    pub fn pulpo_root(&self) -> String {
        let url = self.pulpo_url();
        url.strip_suffix(tentacle_sandbox::pulpo::BASE_PATH)
            .map_or(url.clone(), str::to_string)
    }

    pub async fn stats(&self) -> anyhow::Result<(ShopifyStatsSnapshot, PulpoStatsSnapshot)> {
        match self {
            Sandboxes::InProcess { shopify, pulpo } => Ok((shopify.stats(), pulpo.stats())),
            Sandboxes::Child(child) => child.stats().await,
        }
    }

    /// Adds where the sandboxes ran to `line`, and what the child used when they had one.
    pub fn describe(&self, line: &mut serde_json::Value) -> anyhow::Result<()> {
        match self {
            Sandboxes::InProcess { .. } => line["sandboxes"] = json!("in-process"),
            Sandboxes::Child(child) => {
                let theirs = child.usage()?;
                line["sandboxes"] = json!("child process");
                line["sandbox_peak_rss_mb"] = json!(round(theirs.peak_rss_mb, 1));
                line["sandbox_cpu_s"] = json!(round(theirs.cpu_s, 2));
            }
        }
        Ok(())
    }

    pub async fn stop(self) {
        match self {
            Sandboxes::InProcess { shopify, pulpo } => {
                shopify.stop().await;
                pulpo.stop().await;
            }
            // Killed when dropped.
            Sandboxes::Child(child) => drop(child),
        }
    }
}

/// The least time the sandboxes' limits allow for what they served.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The points charged beyond the bucket the run started with, at the restore rate.
    pub shopify_s: f64,
    /// PULPO's summed service time over its concurrency cap (no cap, no bound).
    pub pulpo_s: f64,
}

impl Bound {
    pub fn of(
        bucket: f64,
        restore_rate: f64,
        shopify: &ShopifyStatsSnapshot,
        pulpo: &PulpoStatsSnapshot,
    ) -> Bound {
        let shopify_s = if restore_rate <= 0.0 {
            0.0
        } else {
            (shopify.points_charged as f64 - bucket).max(0.0) / restore_rate
        };
        Bound {
            shopify_s,
            pulpo_s: pulpo.bound().map_or(0.0, |bound| bound.as_secs_f64()),
        }
    }

    /// The larger of the two: the sandbox that limits.
    pub fn seconds(&self) -> f64 {
        self.shopify_s.max(self.pulpo_s)
    }
}

pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
