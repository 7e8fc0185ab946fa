//! The returns integration (PULPO → Shopify, SPEC §2 and §4, reference §A.8): each customer
//! return PULPO receives for an order tentacle imported becomes one Shopify return on the
//! fulfillment line items of the returned lines, with their quantities and the reason its PULPO
//! reason code maps to, left open ("return in progress") and never restocked: the units come
//! back to Shopify through the stock integration, and a restock here would count them twice.
//!
//! A run:
//! 1. [`read`]: the PULPO returns received since the cursor (less [`OVERLAP`]; the first run
//!    looks [`FIRST_RUN_DAYS`] back), kept to those of orders tentacle imported (an order link
//!    of this store and PULPO), grouped by Shopify order;
//! 2. per Shopify order with a return not registered yet, its fulfillments and returns read
//!    once, and per PULPO return the domain's [`decide`](tentacle_domain::returns::decide);
//! 3. [`write`]: the decision carried out the sales orders way: the return link as an intent,
//!    the create, the completed link; after a lost answer the order's returns are read again and
//!    the one Shopify made is adopted rather than registered twice;
//! 4. [`refund`]: when the settings ask, a registered return refunded once (an idempotency key
//!    and a note that name the PULPO return), its refund id kept on the link.
//!
//! The cursor moves to the run's start once every return read was handled, or only up to the
//! first one that failed (it is read again by the next run), so a run that stops anywhere
//! reads the same returns again.

mod read;
mod refund;
mod write;

use std::collections::HashMap;

use chrono::TimeDelta;
use tentacle_domain::returns::ReturnSettings;
use tentacle_domain::run::RecordKind;
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, CredentialKind, HeldWrite, LinkScope, SystemPair,
};

use super::{Abort, IntegrationType, RunContext, pulpo_abort, shopify_abort};

/// The returns type (PULPO → Shopify).
pub struct Returns;

pub const TYPE: &str = "returns";

/// Returns received this long before the cursor are read again: PULPO's `inserted_at` of a
/// receipt committed while the last run read may be older than that run's start.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// How far back the first run of a configuration looks for returns.
pub const FIRST_RUN_DAYS: i64 = 7;

#[async_trait::async_trait]
impl IntegrationType for Returns {
    const KEY: &'static str = TYPE;
    const LABEL: &'static str = "Returns";
    const SUMMARY: &'static str = "Registers each customer return PULPO receives for an imported \
                                   order as a Shopify return, left open and not restocked.";
    const ORIGIN: CredentialKind = CredentialKind::Pulpo;
    const DESTINATION: CredentialKind = CredentialKind::Shopify;
    const ORIGIN_HELP: &'static str = "The warehouse system whose received returns are sent.";
    const DESTINATION_HELP: &'static str =
        "The store whose orders tentacle imported and that gets the returns.";

    type Settings = ReturnSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &ReturnSettings) -> Result<(), Abort> {
        let returns = ReturnRun::start(run, settings).await?;
        let until = run.options.now;
        let since = match run.store.cursor(run.integration.id).await? {
            Some(cursor) => cursor - OVERLAP,
            None => until - TimeDelta::days(FIRST_RUN_DAYS),
        };
        let orders = returns.received(since).await?;
        let mut cursor = until;
        for order in orders {
            if let Some(failed_at) = returns.order(order).await? {
                // Read again next run: the cursor stays before the first failure.
                cursor = cursor.min(failed_at.max(since));
            }
        }
        run.log.flush().await?;
        run.store
            .write_held(
                run.log.lease(),
                &[HeldWrite::Cursor {
                    integration_id: run.integration.id,
                    at: cursor,
                }],
            )
            .await?;
        Ok(())
    }
}

/// Everything one run works with.
struct ReturnRun<'a> {
    context: &'a RunContext<'a>,
    settings: &'a ReturnSettings,
    /// The sales orders links of this store and PULPO: which PULPO orders tentacle imported.
    orders: LinkScope,
    /// Whose return links these are.
    pair: SystemPair,
    /// PULPO returns flagged before this run, by incoming good id: a flag of one that goes
    /// through is cleared.
    flagged: HashMap<i64, AttentionKind>,
}

impl<'a> ReturnRun<'a> {
    async fn start(
        context: &'a RunContext<'a>,
        settings: &'a ReturnSettings,
    ) -> Result<ReturnRun<'a>, Abort> {
        let shop = context.credential(CredentialKind::Shopify);
        let wms = context.credential(CredentialKind::Pulpo);
        let flagged = context
            .store
            .flags(Some(context.integration.id))
            .await?
            .into_iter()
            .filter(|f| f.key.record_kind == RecordKind::Return)
            .filter_map(|f| Some((f.key.record_id.parse().ok()?, f.kind)))
            .collect();
        Ok(ReturnRun {
            context,
            settings,
            orders: LinkScope {
                origin_credential_id: shop.id,
                destination_credential_id: wms.id,
            },
            pair: SystemPair {
                shopify_credential_id: shop.id,
                pulpo_credential_id: wms.id,
            },
            flagged,
        })
    }

    fn shopify_abort(&self, error: &tentacle_shopify::ShopifyError) -> Abort {
        shopify_abort(
            error,
            &self.context.credential(CredentialKind::Shopify).name,
        )
    }

    fn pulpo_abort(&self, error: &tentacle_pulpo::PulpoError) -> Abort {
        pulpo_abort(error, &self.context.credential(CredentialKind::Pulpo).name)
    }

    /// The flag of a PULPO return that failed or is in conflict.
    fn flag(
        &self,
        incoming_good_id: i64,
        label: String,
        kind: AttentionKind,
        reason: String,
    ) -> HeldWrite {
        HeldWrite::Flag(Attention {
            key: self.return_key(incoming_good_id),
            record_label: label,
            kind,
            reason,
            attempts: 1,
            run_id: Some(self.context.log.lease().run_id),
            updated_at: chrono::Utc::now(),
        })
    }

    /// The PULPO return's earlier flag cleared, when it had one: it went through.
    fn clear_flag(&self, incoming_good_id: i64) -> Option<HeldWrite> {
        self.flagged
            .contains_key(&incoming_good_id)
            .then(|| HeldWrite::ClearFlag(self.return_key(incoming_good_id)))
    }

    fn return_key(&self, incoming_good_id: i64) -> AttentionKey {
        AttentionKey {
            integration_id: self.context.integration.id,
            record_kind: RecordKind::Return,
            record_id: incoming_good_id.to_string(),
        }
    }
}
