//! The refund of a registered PULPO return, when the settings ask: the returned units at what
//! the order charged for them and its shipping, never more than Shopify received and has not
//! refunded yet (the domain's [`plan_refund`]), never restocked. `refundCreate` is idempotent:
//! its key names the PULPO return, so a resend after a lost answer makes no second refund; its
//! note names it too, so a refund whose answer never came back is found on the order by the
//! next run and linked rather than made again.

use tentacle_domain::messages;
use tentacle_domain::returns::{RefundableLine, RefundableOrder, ReturnedGood, plan_refund};
use tentacle_shopify::returns::{NewRefund, OrderRefundable};
use tentacle_store::AttentionKind;

use super::ReturnRun;
use super::write::{Named, note, numeric_id};
use crate::integrations::Abort;

impl ReturnRun<'_> {
    /// Refunds the PULPO return registered as Shopify return `return_id` (none when the
    /// settings register no return); whether it failed.
    /// `refundable` is the order's refundable state, read once per order and kept up to date
    /// by each refund made.
    pub(super) async fn refund(
        &self,
        named: &Named<'_>,
        good: &ReturnedGood,
        return_id: Option<String>,
        refundable: &mut Option<OrderRefundable>,
    ) -> Result<bool, Abort> {
        let log = self.context.log;
        let shop = self.context.shopify();
        if refundable.is_none() {
            *refundable = shop
                .order_refundable(&named.order.shopify_order_id)
                .await
                .map_err(|e| self.shopify_abort(&e))?;
        }
        let Some(order) = refundable.as_mut() else {
            let entry = messages::refund_refused(
                &named.order.order_name,
                &named.name,
                "Shopify has no such order any more",
            );
            self.failed(named, entry).await?;
            return Ok(true);
        };
        let note = note(named);
        let done = |refund_id: String| self.link(named, return_id.clone(), Some(refund_id));
        if let Some((found, _)) = order
            .refunds
            .iter()
            .find(|(_, n)| n.as_deref() == Some(note.as_str()))
        {
            log.record(messages::refund_found(&named.order.order_name, &named.name));
            log.count(|c| c.updated += 1);
            self.commit(named.good.id, done(found.clone())).await?;
            return Ok(false);
        }
        let Some(plan) = plan_refund(
            good,
            &refundable_order(order),
            self.settings.refund_products,
            self.settings.refund_shipping,
        ) else {
            let entry = messages::refund_nothing_left(&named.order.order_name, &named.name);
            let flag = self.flag(
                named.good.id,
                named.label(),
                AttentionKind::Conflict,
                entry.message.clone(),
            );
            log.record(entry);
            log.count(|c| c.conflicts += 1);
            self.write(vec![flag]).await?;
            return Ok(false);
        };
        let new = NewRefund {
            order_id: named.order.shopify_order_id.clone(),
            lines: plan
                .lines
                .iter()
                .filter_map(|(line, units)| {
                    Some((
                        format!("gid://shopify/LineItem/{line}"),
                        u32::try_from(*units).ok()?,
                    ))
                })
                .collect(),
            shipping: plan.shipping,
            amount: plan.amount,
            payment: order.payment.clone(),
            note: note.clone(),
            notify: self.settings.notify_customer,
        };
        // One refund per PULPO return of this pair of systems, whoever sends it how often.
        let key = format!(
            "tentacle-return-refund-{}-{}-{}",
            self.pair.shopify_credential_id, self.pair.pulpo_credential_id, named.good.id
        );
        let outcome = shop
            .refund_create(&new, &key)
            .await
            .map_err(|e| self.shopify_abort(&e))?;
        let Some(refund_id) = outcome.refund_id.filter(|_| outcome.user_errors.is_empty()) else {
            let detail: Vec<String> = outcome.user_errors.into_iter().map(|e| e.message).collect();
            let entry =
                messages::refund_refused(&named.order.order_name, &named.name, &detail.join("; "));
            self.failed(named, entry).await?;
            return Ok(true);
        };
        // The next PULPO return of the order is refunded from what is really left.
        order.refunded += plan.amount;
        order.shipping_refunded += plan.shipping;
        for (line, units) in &plan.lines {
            if let Some(refundable) = order.lines.iter_mut().find(|l| numeric_id(&l.id) == *line) {
                refundable.refundable_quantity = refundable
                    .refundable_quantity
                    .saturating_sub(u32::try_from(*units).unwrap_or(u32::MAX));
            }
        }
        order.refunds.push((refund_id.clone(), Some(note)));
        log.record(messages::return_refunded(
            &named.order.order_name,
            &named.name,
            &plan,
            &order.currency,
        ));
        log.count(|c| c.updated += 1);
        self.commit(named.good.id, done(refund_id)).await?;
        Ok(false)
    }
}

/// Shopify's refundable state as the rules read it.
fn refundable_order(order: &OrderRefundable) -> RefundableOrder {
    RefundableOrder {
        lines: order
            .lines
            .iter()
            .map(|l| RefundableLine {
                line_item_id: numeric_id(&l.id),
                refundable: i64::from(l.refundable_quantity),
                unit_price: l.unit_price,
            })
            .collect(),
        received: order.received,
        refunded: order.refunded,
        shipping: order.shipping,
        shipping_refunded: order.shipping_refunded,
    }
}
