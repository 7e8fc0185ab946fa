//! The generate_shipments integration (PULPO → Shopify, SPEC §2 and §4): each box PULPO ships
//! for an order tentacle imported becomes one Shopify fulfillment, with its tracking, on the
//! fulfillment order the PULPO order came from; a tracking changed later in PULPO follows.
//!
//! A run:
//! 1. [`read`]: the PULPO orders whose packing changed since the cursor (less [`OVERLAP`]; the
//!    first run looks [`FIRST_RUN_DAYS`] back), plus those of boxes that failed before, kept
//!    to the ones tentacle imported (an order link of this store and PULPO), and their shipped
//!    boxes;
//! 2. per Shopify order, its fulfilment state read once, and per box the domain's
//!    [`decide`](tentacle_domain::shipments::decide);
//! 3. [`write`]: the decision carried out the sales orders way: the shipment link as an intent,
//!    the create, the completed link; after a lost answer the next run finds the fulfillment
//!    on the order and adopts it rather than shipping twice.
//!
//! The cursor moves to the run's start only once every box read was handled, so a run that
//! stops anywhere reads the same packing changes again.

mod read;
mod write;

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;
use tentacle_domain::run::RecordKind;
use tentacle_domain::shipments::ShipmentSettings;
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, CredentialKind, HeldWrite, LinkScope, SystemPair,
};

use super::{Abort, IntegrationType, RunContext, pulpo_abort, shopify_abort};

/// The generate_shipments type (PULPO → Shopify).
pub struct GenerateShipments;

pub const TYPE: &str = "generate_shipments";

/// Packing changes this long before the cursor are read again: PULPO's `updated_at` of a
/// change committed while the last run read may be older than that run's start.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// How far back the first run of a configuration looks for shipped boxes.
pub const FIRST_RUN_DAYS: i64 = 7;

#[async_trait::async_trait]
impl IntegrationType for GenerateShipments {
    const KEY: &'static str = TYPE;
    const LABEL: &'static str = "Shipments";
    const SUMMARY: &'static str = "Makes each box PULPO ships for an imported order a Shopify \
                                   fulfillment with its tracking.";
    const ORIGIN: CredentialKind = CredentialKind::Pulpo;
    const DESTINATION: CredentialKind = CredentialKind::Shopify;
    const ORIGIN_HELP: &'static str = "The warehouse system whose shipped boxes are sent.";
    const DESTINATION_HELP: &'static str =
        "The store whose orders tentacle imported and that gets the fulfillments.";

    type Settings = ShipmentSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &ShipmentSettings) -> Result<(), Abort> {
        let shipments = ShipmentRun::start(run, settings).await?;
        let until = run.options.now;
        let since = match run.store.cursor(run.integration.id).await? {
            Some(cursor) => cursor - OVERLAP,
            None => until - TimeDelta::days(FIRST_RUN_DAYS),
        };
        let orders = shipments.shipped_orders(since).await?;
        for order in orders {
            shipments.order(order).await?;
        }
        run.log.flush().await?;
        run.store
            .write_held(
                run.log.lease(),
                &[HeldWrite::Cursor {
                    integration_id: run.integration.id,
                    at: until,
                }],
            )
            .await?;
        Ok(())
    }
}

/// Everything one run works with.
struct ShipmentRun<'a> {
    context: &'a RunContext<'a>,
    settings: &'a ShipmentSettings,
    /// The sales orders links of this store and PULPO: which PULPO orders tentacle imported.
    orders: LinkScope,
    /// Whose shipment links these are.
    pair: SystemPair,
    /// Boxes flagged before this run, by id: failed ones are read again whatever the cursor
    /// says, and their flag cleared once they go through.
    flagged: HashMap<i64, AttentionKind>,
    /// Shopify location names by id, PULPO warehouse names by id: a fulfillment order's
    /// location and a PULPO order's warehouse are the same place when their names are.
    locations: HashMap<String, String>,
    warehouses: HashMap<i64, String>,
}

impl<'a> ShipmentRun<'a> {
    async fn start(
        context: &'a RunContext<'a>,
        settings: &'a ShipmentSettings,
    ) -> Result<ShipmentRun<'a>, Abort> {
        let shop = context.credential(CredentialKind::Shopify);
        let wms = context.credential(CredentialKind::Pulpo);
        let flagged = context
            .store
            .flags(Some(context.integration.id))
            .await?
            .into_iter()
            .filter(|f| f.key.record_kind == RecordKind::Box)
            .filter_map(|f| Some((f.key.record_id.parse().ok()?, f.kind)))
            .collect();
        let (locations, warehouses) =
            tokio::join!(context.shopify().locations(), context.pulpo().warehouses());
        let locations = locations
            .map_err(|e| shopify_abort(&e, &shop.name))?
            .into_iter()
            .map(|l| (l.id, l.name))
            .collect();
        let warehouses = warehouses
            .map_err(|e| pulpo_abort(&e, &wms.name))?
            .into_iter()
            .map(|w| (w.id, w.name))
            .collect();
        Ok(ShipmentRun {
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
            locations,
            warehouses,
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

    /// Boxes that failed in an earlier run: read again until they go through.
    fn failed_boxes(&self) -> HashSet<i64> {
        self.flagged
            .iter()
            .filter(|(_, kind)| **kind == AttentionKind::Failed)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The flag of a box that failed or is in conflict.
    fn flag(&self, box_id: i64, label: String, kind: AttentionKind, reason: String) -> HeldWrite {
        HeldWrite::Flag(Attention {
            key: self.box_key(box_id),
            record_label: label,
            kind,
            reason,
            attempts: 1,
            run_id: Some(self.context.log.lease().run_id),
            updated_at: chrono::Utc::now(),
        })
    }

    /// The box's earlier failure flag cleared, when it had one: it went through.
    fn clear_failure(&self, box_id: i64) -> Option<HeldWrite> {
        (self.flagged.get(&box_id) == Some(&AttentionKind::Failed))
            .then(|| HeldWrite::ClearFlag(self.box_key(box_id)))
    }

    fn box_key(&self, box_id: i64) -> AttentionKey {
        AttentionKey {
            integration_id: self.context.integration.id,
            record_kind: RecordKind::Box,
            record_id: box_id.to_string(),
        }
    }
}
