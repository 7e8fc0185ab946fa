//! The sales orders rules against SPEC §3.2–§3.4.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::SalesOrderSettings;
use super::*;
use crate::order::{
    Address, Customer, FinancialStatus, FulfillmentOrder, FulfillmentOrderLine,
    FulfillmentOrderStatus, FulfillmentStatus, LineItem, ShopifyOrder,
};
use crate::run::LogLevel;

const BERLIN: i64 = 1;
const PARIS: i64 = 2;

fn warehouses() -> Warehouses {
    Warehouses::new([("Berlin".to_owned(), BERLIN), ("Paris".to_owned(), PARIS)]).unwrap()
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn item(id: u64, sku: &str, requires_shipping: bool) -> LineItem {
    LineItem {
        id: format!("gid://shopify/LineItem/{id}"),
        sku: Some(sku.to_owned()),
        name: format!("Product {sku}"),
        quantity: 5,
        requires_shipping,
        is_gift_card: !requires_shipping,
        unit_price: Decimal::new(1999, 2),
    }
}

/// A fulfillment order `id` at `location`, with `(line item id, remaining quantity)` lines.
fn fulfillment_order(id: u64, location: &str, lines: &[(u64, u32)]) -> FulfillmentOrder {
    FulfillmentOrder {
        id: format!("gid://shopify/FulfillmentOrder/{id}"),
        status: FulfillmentOrderStatus::Open,
        location_name: location.to_owned(),
        lines: lines
            .iter()
            .map(|&(line_item, remaining)| FulfillmentOrderLine {
                id: format!("gid://shopify/FulfillmentOrderLineItem/{id}{line_item}"),
                line_item_id: format!("gid://shopify/LineItem/{line_item}"),
                remaining_quantity: remaining,
                total_quantity: remaining.max(1),
            })
            .collect(),
    }
}

/// `#1001`: paid, unfulfilled, with a customer and a shipping address; ABC-1 ×2 and DEF-2 ×1,
/// both to ship from Berlin.
fn order() -> ShopifyOrder {
    ShopifyOrder {
        id: "gid://shopify/Order/5001".into(),
        legacy_id: 5001,
        name: "#1001".into(),
        updated_at: time("2026-11-20T10:00:00Z"),
        cancelled_at: None,
        financial_status: Some(FinancialStatus::Paid),
        fulfillment_status: FulfillmentStatus::Unfulfilled,
        tags: vec![],
        email: Some("ana@example.com".into()),
        phone: None,
        customer: Some(Customer {
            id: "gid://shopify/Customer/77".into(),
            first_name: Some("Ana".into()),
            last_name: Some("García".into()),
            email: Some("ana@example.com".into()),
            phone: Some("+34 600 000 000".into()),
        }),
        shipping_address: Some(Address {
            first_name: Some("Ana".into()),
            last_name: Some("García".into()),
            name: Some("Ana García".into()),
            company: None,
            address1: Some("Calle Mayor 1".into()),
            address2: Some("3º B".into()),
            city: Some("Madrid".into()),
            province: Some("Madrid".into()),
            province_code: Some("M".into()),
            zip: Some("28013".into()),
            country: Some("Spain".into()),
            country_code: Some("ES".into()),
            phone: None,
        }),
        line_items: vec![item(11, "ABC-1", true), item(12, "DEF-2", true)],
        fulfillment_orders: vec![fulfillment_order(501, "Berlin", &[(11, 2), (12, 1)])],
    }
}

fn decide_with(settings: &SalesOrderSettings, order: &ShopifyOrder) -> Decision {
    Planner::new(settings, &warehouses())
        .decide(order, &[])
        .unwrap()
}

fn decide(order: &ShopifyOrder) -> Decision {
    decide_with(&SalesOrderSettings::default(), order)
}

fn drafts(decision: Decision) -> Vec<SalesOrderDraft> {
    match decision {
        Decision::Import(drafts) => drafts,
        other => panic!("expected an import, got {other:?}"),
    }
}

fn skip_reason(decision: Decision) -> SkipReason {
    match decision {
        Decision::Skip(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn steps(decision: Decision) -> Vec<Step> {
    match decision {
        Decision::Sync(steps) => steps,
        other => panic!("expected steps, got {other:?}"),
    }
}

/// What our store would hold after importing `order` and PULPO reaching `state`.
fn links_after_import(order: &ShopifyOrder, state: PulpoOrderState) -> Vec<LinkedSalesOrder> {
    drafts(decide(order))
        .into_iter()
        .zip(100..)
        .map(|(draft, pulpo_order_id)| LinkedSalesOrder {
            fulfillment_order_id: draft.fulfillment_order_id.clone(),
            pulpo_order_id,
            order_num: draft.order_num.clone(),
            warehouse_id: draft.warehouse_id,
            state,
            fingerprint: draft.fingerprint(),
        })
        .collect()
}

fn decide_imported(order: &ShopifyOrder, links: &[LinkedSalesOrder]) -> Decision {
    Planner::new(&SalesOrderSettings::default(), &warehouses())
        .decide(order, links)
        .unwrap()
}

fn line_quantities(draft: &SalesOrderDraft) -> Vec<(&str, &str, u32)> {
    draft
        .lines
        .iter()
        .map(|line| {
            (
                line.line_order_id.as_str(),
                line.sku.as_str(),
                line.quantity,
            )
        })
        .collect()
}

// --- Import ---------------------------------------------------------------------------------

#[test]
fn a_paid_unfulfilled_order_becomes_one_pulpo_order() {
    let drafts = drafts(decide(&order()));
    assert_eq!(drafts.len(), 1);
    let draft = &drafts[0];
    assert_eq!(draft.order_num, "1001");
    assert_eq!(draft.external_order_num, "5001");
    assert_eq!(draft.channel, "shopify");
    assert_eq!(
        draft.fulfillment_order_id,
        "gid://shopify/FulfillmentOrder/501"
    );
    assert_eq!(draft.warehouse_id, BERLIN);
    assert_eq!(draft.warehouse_name, "Berlin");
    assert_eq!(
        line_quantities(draft),
        [("11", "ABC-1", 2), ("12", "DEF-2", 1)]
    );
    match &draft.customer {
        CustomerRef::Shopify(customer) => assert_eq!(customer.id, "gid://shopify/Customer/77"),
        other => panic!("expected the Shopify customer, got {other:?}"),
    }
}

#[test]
fn ship_to_comes_from_the_shipping_address() {
    let ship_to = drafts(decide(&order())).remove(0).ship_to;
    assert_eq!(ship_to.name.as_deref(), Some("Ana García"));
    assert_eq!(ship_to.phone_number.as_deref(), Some("+34 600 000 000"));
    let address = &ship_to.address;
    assert_eq!(address.street, "Calle Mayor 1");
    assert_eq!(address.street2.as_deref(), Some("3º B"));
    assert_eq!(address.zip.as_deref(), Some("28013"));
    assert_eq!(address.city.as_deref(), Some("Madrid"));
    assert_eq!(address.country_alpha2.as_deref(), Some("ES"));
    assert_eq!(address.email.as_deref(), Some("ana@example.com"));
    // Serialized with PULPO's field names, absent fields left out.
    let json = serde_json::to_value(&ship_to).unwrap();
    assert_eq!(json["address"]["street"], "Calle Mayor 1");
    assert_eq!(json["address"]["country_alpha2"], "ES");
    assert!(json.get("company_name").is_none());
}

#[test]
fn a_cancelled_order_is_not_imported() {
    let mut order = order();
    order.cancelled_at = Some(time("2026-11-20T11:00:00Z"));
    assert_eq!(skip_reason(decide(&order)), SkipReason::Cancelled);
}

#[test]
fn only_paid_orders_are_imported_by_default() {
    for status in [
        FinancialStatus::Pending,
        FinancialStatus::Authorized,
        FinancialStatus::PartiallyPaid,
    ] {
        let mut order = order();
        order.financial_status = Some(status);
        assert_eq!(
            skip_reason(decide(&order)),
            SkipReason::FinancialStatusNotImported(Some(status))
        );
    }
    let mut without_status = order();
    without_status.financial_status = None;
    assert_eq!(
        skip_reason(decide(&without_status)),
        SkipReason::FinancialStatusNotImported(None)
    );
}

#[test]
fn the_import_financial_statuses_are_configurable() {
    let settings = SalesOrderSettings {
        import_financial_statuses: vec![FinancialStatus::Paid, FinancialStatus::Pending],
        ..SalesOrderSettings::default()
    };
    let mut pending = order();
    pending.financial_status = Some(FinancialStatus::Pending);
    assert_eq!(drafts(decide_with(&settings, &pending)).len(), 1);
}

#[test]
fn default_fulfillment_statuses_are_imported_and_others_skipped() {
    for status in [
        FulfillmentStatus::Unfulfilled,
        FulfillmentStatus::PartiallyFulfilled,
        FulfillmentStatus::Scheduled,
        FulfillmentStatus::OnHold,
    ] {
        let mut order = order();
        order.fulfillment_status = status;
        assert_eq!(drafts(decide(&order)).len(), 1, "{status}");
    }
    for status in [
        FulfillmentStatus::Fulfilled,
        FulfillmentStatus::InProgress,
        FulfillmentStatus::FulfillmentNotRequired,
    ] {
        let mut order = order();
        order.fulfillment_status = status;
        assert_eq!(
            skip_reason(decide(&order)),
            SkipReason::FulfillmentStatusNotImported(status)
        );
    }
}

#[test]
fn an_order_must_carry_all_required_tags() {
    let settings = SalesOrderSettings {
        required_tags: vec!["TrustedCustomer".into(), "ShipmentAllowed".into()],
        ..SalesOrderSettings::default()
    };
    let mut both = order();
    both.tags = vec![
        "ShipmentAllowed".into(),
        "TrustedCustomer".into(),
        "VIP".into(),
    ];
    assert_eq!(drafts(decide_with(&settings, &both)).len(), 1);

    let mut one = order();
    one.tags = vec!["TrustedCustomer".into()];
    assert_eq!(
        skip_reason(decide_with(&settings, &one)),
        SkipReason::MissingTags(vec!["ShipmentAllowed".into()])
    );

    // Shopify tags are case-insensitive.
    let mut other_case = order();
    other_case.tags = vec!["trustedcustomer".into(), "SHIPMENTALLOWED".into()];
    assert_eq!(drafts(decide_with(&settings, &other_case)).len(), 1);
}

#[test]
fn no_required_tags_means_no_tag_filter() {
    let untagged = order();
    assert!(untagged.tags.is_empty());
    assert_eq!(drafts(decide(&untagged)).len(), 1);
}

#[test]
fn lines_that_need_no_shipping_are_dropped() {
    let mut order = order();
    order.line_items.push(item(13, "GIFT-50", false));
    order.fulfillment_orders[0] = fulfillment_order(501, "Berlin", &[(11, 2), (13, 1)]);
    let draft = drafts(decide(&order)).remove(0);
    assert_eq!(line_quantities(&draft), [("11", "ABC-1", 2)]);
}

#[test]
fn an_order_left_without_lines_is_skipped_with_info() {
    let mut order = order();
    order.line_items = vec![item(13, "GIFT-50", false)];
    order.fulfillment_orders = vec![fulfillment_order(501, "Berlin", &[(13, 1)])];
    let reason = skip_reason(decide(&order));
    assert_eq!(reason, SkipReason::NoPhysicalLines);
    assert_eq!(reason.level(), LogLevel::Info);
}

#[test]
fn with_physical_only_off_every_line_is_kept() {
    let settings = SalesOrderSettings {
        only_physical_products: false,
        ..SalesOrderSettings::default()
    };
    let mut order = order();
    order.line_items = vec![item(13, "GIFT-50", false)];
    order.fulfillment_orders = vec![fulfillment_order(501, "Berlin", &[(13, 1)])];
    let draft = drafts(decide_with(&settings, &order)).remove(0);
    assert_eq!(line_quantities(&draft), [("13", "GIFT-50", 1)]);
}

#[test]
fn quantities_are_what_remains_to_ship_and_fulfilled_lines_are_left_out() {
    let mut order = order();
    order.fulfillment_status = FulfillmentStatus::PartiallyFulfilled;
    order.fulfillment_orders = vec![fulfillment_order(501, "Berlin", &[(11, 1), (12, 0)])];
    let draft = drafts(decide(&order)).remove(0);
    assert_eq!(line_quantities(&draft), [("11", "ABC-1", 1)]);

    order.fulfillment_orders = vec![fulfillment_order(501, "Berlin", &[(11, 0), (12, 0)])];
    assert_eq!(skip_reason(decide(&order)), SkipReason::NothingToShip);
}

#[test]
fn without_a_customer_the_fallback_customer_is_used() {
    let settings = SalesOrderSettings {
        fallback_customer_id: Some(42),
        ..SalesOrderSettings::default()
    };
    let mut guest = order();
    guest.customer = None;
    let draft = drafts(decide_with(&settings, &guest)).remove(0);
    assert_eq!(draft.customer, CustomerRef::Fallback(42));
}

#[test]
fn without_customer_or_fallback_the_order_is_skipped_with_a_warning() {
    let mut guest = order();
    guest.customer = None;
    let reason = skip_reason(decide(&guest));
    assert_eq!(reason, SkipReason::NoCustomer);
    assert_eq!(reason.level(), LogLevel::Warning);
}

#[test]
fn an_order_split_over_two_warehouses_becomes_two_numbered_orders() {
    let mut order = order();
    // Listed out of id order: numbering follows the fulfillment order ids.
    order.fulfillment_orders = vec![
        fulfillment_order(502, "Paris", &[(12, 1)]),
        fulfillment_order(501, "Berlin", &[(11, 2)]),
    ];
    let drafts = drafts(decide(&order));
    let summary: Vec<_> = drafts
        .iter()
        .map(|d| (d.order_num.as_str(), d.warehouse_id, line_quantities(d)))
        .collect();
    assert_eq!(
        summary,
        [
            ("1001_1", BERLIN, vec![("11", "ABC-1", 2)]),
            ("1001_2", PARIS, vec![("12", "DEF-2", 1)]),
        ]
    );
}

#[test]
fn split_numbering_compares_ids_as_numbers() {
    let mut order = order();
    order.fulfillment_orders = vec![
        fulfillment_order(10, "Paris", &[(12, 1)]),
        fulfillment_order(9, "Berlin", &[(11, 2)]),
    ];
    let drafts = drafts(decide(&order));
    assert_eq!(drafts[0].order_num, "1001_1");
    assert_eq!(drafts[0].warehouse_name, "Berlin");
    assert_eq!(drafts[1].order_num, "1001_2");
}

#[test]
fn a_fulfillment_order_at_a_location_unknown_to_pulpo_is_not_imported() {
    let mut order = order();
    order.fulfillment_orders = vec![
        fulfillment_order(501, "Berlin", &[(11, 2)]),
        fulfillment_order(502, "Madrid", &[(12, 1)]),
    ];
    let drafts = drafts(decide(&order));
    assert_eq!(drafts.len(), 1);
    // Only one fulfillment order goes to PULPO, so no suffix.
    assert_eq!(drafts[0].order_num, "1001");
    assert_eq!(drafts[0].warehouse_name, "Berlin");
}

#[test]
fn an_order_with_no_fulfillment_order_at_a_pulpo_warehouse_is_skipped() {
    let mut order = order();
    order.fulfillment_orders = vec![fulfillment_order(502, "Madrid", &[(11, 2), (12, 1)])];
    assert_eq!(
        skip_reason(decide(&order)),
        SkipReason::NoPulpoWarehouse {
            locations: vec!["Madrid".into()]
        }
    );
}

#[test]
fn closed_fulfillment_orders_are_not_imported() {
    let mut order = order();
    order.fulfillment_orders[0].status = FulfillmentOrderStatus::Closed;
    assert_eq!(
        skip_reason(decide(&order)),
        SkipReason::NoPulpoWarehouse { locations: vec![] }
    );
}

#[test]
fn the_prefix_goes_before_the_order_number() {
    let settings = SalesOrderSettings {
        order_number_prefix: "EU-".into(),
        ..SalesOrderSettings::default()
    };
    assert_eq!(
        drafts(decide_with(&settings, &order()))[0].order_num,
        "EU-1001"
    );

    let mut split = order();
    split.fulfillment_orders = vec![
        fulfillment_order(501, "Berlin", &[(11, 2)]),
        fulfillment_order(502, "Paris", &[(12, 1)]),
    ];
    let nums: Vec<_> = drafts(decide_with(&settings, &split))
        .into_iter()
        .map(|d| d.order_num)
        .collect();
    assert_eq!(nums, ["EU-1001_1", "EU-1001_2"]);
}

#[test]
fn a_missing_street_fails_the_order() {
    let mut order = order();
    order.shipping_address.as_mut().unwrap().address1 = Some("  ".into());
    let planner_settings = SalesOrderSettings::default();
    let warehouses = warehouses();
    let planner = Planner::new(&planner_settings, &warehouses);
    assert_eq!(planner.decide(&order, &[]), Err(OrderError::MissingStreet));

    order.shipping_address = None;
    assert_eq!(
        planner.decide(&order, &[]),
        Err(OrderError::NoShippingAddress)
    );
}

#[test]
fn a_line_without_sku_fails_the_order() {
    let mut order = order();
    order.line_items[1].sku = None;
    let settings = SalesOrderSettings::default();
    let warehouses = warehouses();
    let error = Planner::new(&settings, &warehouses)
        .decide(&order, &[])
        .unwrap_err();
    assert_eq!(
        error,
        OrderError::LineWithoutSku {
            line_item_id: "gid://shopify/LineItem/12".into(),
            name: "Product DEF-2".into(),
        }
    );
}

#[test]
fn skus_resolve_to_pulpo_products_and_unknown_ones_fail_the_order() {
    let draft = drafts(decide(&order())).remove(0);
    assert_eq!(
        draft.skus().into_iter().collect::<Vec<_>>(),
        ["ABC-1", "DEF-2"]
    );

    let items = draft
        .resolve_products(|sku| match sku {
            "ABC-1" => Some(900),
            "DEF-2" => Some(901),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        items,
        [
            SalesOrderItem {
                product_id: 900,
                quantity: 2,
                line_order_id: "11".into()
            },
            SalesOrderItem {
                product_id: 901,
                quantity: 1,
                line_order_id: "12".into()
            },
        ]
    );

    let error = draft.resolve_products(|_| None).unwrap_err();
    assert_eq!(
        error,
        OrderError::UnknownSkus {
            skus: vec!["ABC-1".into(), "DEF-2".into()]
        }
    );
}

// --- Already imported -----------------------------------------------------------------------

#[test]
fn an_imported_order_that_did_not_change_is_unchanged() {
    let order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    assert_eq!(decide_imported(&order, &links), Decision::Unchanged);
}

#[test]
fn import_filters_do_not_apply_once_imported() {
    let settings = SalesOrderSettings {
        required_tags: vec!["ShipmentAllowed".into()],
        ..SalesOrderSettings::default()
    };
    let mut order = order();
    order.tags = vec!["ShipmentAllowed".into()];
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.tags.clear();
    order.financial_status = Some(FinancialStatus::PartiallyRefunded);
    let warehouses = warehouses();
    assert_eq!(
        Planner::new(&settings, &warehouses).decide(&order, &links),
        Ok(Decision::Unchanged)
    );
}

#[test]
fn an_order_cancelled_in_shopify_is_cancelled_in_pulpo() {
    let mut order = order();
    order.fulfillment_orders = vec![
        fulfillment_order(501, "Berlin", &[(11, 2)]),
        fulfillment_order(502, "Paris", &[(12, 1)]),
    ];
    let mut links = links_after_import(&order, PulpoOrderState::Queue);
    links[1].state = PulpoOrderState::Picking;
    order.cancelled_at = Some(time("2026-11-21T09:00:00Z"));
    for fo in &mut order.fulfillment_orders {
        fo.status = FulfillmentOrderStatus::Closed;
    }
    assert_eq!(
        steps(decide_imported(&order, &links)),
        [
            Step::Cancel(Cancellation {
                pulpo_order_id: 100,
                order_num: "1001_1".into(),
                state: PulpoOrderState::Queue,
                reason: CancelReason::CancelledInShopify,
            }),
            Step::Cancel(Cancellation {
                pulpo_order_id: 101,
                order_num: "1001_2".into(),
                state: PulpoOrderState::Picking,
                reason: CancelReason::CancelledInShopify,
            }),
        ]
    );
}

#[test]
fn an_order_reaching_a_cancel_financial_status_is_cancelled() {
    for status in [FinancialStatus::Refunded, FinancialStatus::Voided] {
        let mut order = order();
        let links = links_after_import(&order, PulpoOrderState::Queue);
        order.financial_status = Some(status);
        let steps = steps(decide_imported(&order, &links));
        assert!(
            matches!(&steps[..], [Step::Cancel(c)] if c.reason == CancelReason::FinancialStatus(status)),
            "{steps:?}"
        );
    }
}

#[test]
fn cancel_fulfillment_statuses_are_none_by_default_and_configurable() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.fulfillment_status = FulfillmentStatus::OnHold;
    assert_eq!(decide_imported(&order, &links), Decision::Unchanged);

    let settings = SalesOrderSettings {
        import_fulfillment_statuses: vec![FulfillmentStatus::Unfulfilled],
        cancel_fulfillment_statuses: vec![FulfillmentStatus::OnHold],
        ..SalesOrderSettings::default()
    };
    let warehouses = warehouses();
    let steps = steps(
        Planner::new(&settings, &warehouses)
            .decide(&order, &links)
            .unwrap(),
    );
    assert!(
        matches!(&steps[..], [Step::Cancel(c)] if c.reason == CancelReason::FulfillmentStatus(FulfillmentStatus::OnHold)),
        "{steps:?}"
    );
}

#[test]
fn cancelling_skips_orders_pulpo_already_cancelled_and_flags_shipped_ones() {
    let mut order = order();
    order.fulfillment_orders = vec![
        fulfillment_order(501, "Berlin", &[(11, 2)]),
        fulfillment_order(502, "Paris", &[(12, 1)]),
    ];
    let mut links = links_after_import(&order, PulpoOrderState::Cancelled);
    links[1].state = PulpoOrderState::Ended;
    order.cancelled_at = Some(time("2026-11-21T09:00:00Z"));
    assert_eq!(
        steps(decide_imported(&order, &links)),
        [Step::Conflict(Conflict {
            pulpo_order_id: 101,
            order_num: "1001_2".into(),
            state: PulpoOrderState::Ended,
            reason: ConflictReason::CancelAfterShipped {
                cause: CancelReason::CancelledInShopify
            },
        })]
    );

    links[1].state = PulpoOrderState::Cancelled;
    assert_eq!(decide_imported(&order, &links), Decision::Unchanged);
}

#[test]
fn a_refused_cancellation_becomes_a_conflict() {
    let cancellation = Cancellation {
        pulpo_order_id: 100,
        order_num: "1001".into(),
        state: PulpoOrderState::Picking,
        reason: CancelReason::CancelledInShopify,
    };
    let conflict = cancellation.refused(PulpoOrderState::Picking, "no packing location");
    assert_eq!(conflict.order_num, "1001");
    assert_eq!(
        conflict.reason,
        ConflictReason::CancelRefused {
            cause: CancelReason::CancelledInShopify,
            detail: "no packing location".into()
        }
    );
}

#[test]
fn a_fulfillment_order_moved_to_a_location_unknown_to_pulpo_is_cancelled() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.fulfillment_orders[0].location_name = "Madrid".into();
    assert_eq!(
        steps(decide_imported(&order, &links)),
        [Step::Cancel(Cancellation {
            pulpo_order_id: 100,
            order_num: "1001".into(),
            state: PulpoOrderState::Queue,
            reason: CancelReason::MovedToUnknownLocation {
                location: "Madrid".into()
            },
        })]
    );
}

#[test]
fn a_fulfillment_order_moved_between_pulpo_warehouses_is_updated_while_in_queue() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.fulfillment_orders[0].location_name = "Paris".into();
    let steps = steps(decide_imported(&order, &links));
    let [Step::Update(update)] = &steps[..] else {
        panic!("expected one update, got {steps:?}");
    };
    assert_eq!(update.pulpo_order_id, 100);
    assert_eq!(update.draft.order_num, "1001");
    assert_eq!(update.draft.warehouse_id, PARIS);
    assert_eq!(
        update.reason,
        UpdateReason::Moved {
            from_warehouse_id: BERLIN,
            to_warehouse: "Paris".into()
        }
    );
}

#[test]
fn a_move_after_picking_started_is_a_conflict() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Picking);
    order.fulfillment_orders[0].location_name = "Paris".into();
    assert_eq!(
        steps(decide_imported(&order, &links)),
        [Step::Conflict(Conflict {
            pulpo_order_id: 100,
            order_num: "1001".into(),
            state: PulpoOrderState::Picking,
            reason: ConflictReason::MovedAfterWorkStarted {
                to_warehouse: "Paris".into()
            },
        })]
    );
}

#[test]
fn changed_lines_are_updated_while_in_queue() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.fulfillment_orders[0] = fulfillment_order(501, "Berlin", &[(11, 3), (12, 1)]);
    let steps = steps(decide_imported(&order, &links));
    let [Step::Update(update)] = &steps[..] else {
        panic!("expected one update, got {steps:?}");
    };
    assert_eq!(update.reason, UpdateReason::Changed);
    assert_eq!(
        line_quantities(&update.draft),
        [("11", "ABC-1", 3), ("12", "DEF-2", 1)]
    );
    assert_ne!(update.draft.fingerprint(), links[0].fingerprint);
}

#[test]
fn a_changed_ship_to_is_updated_while_in_queue() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.shipping_address.as_mut().unwrap().address1 = Some("Gran Vía 2".into());
    let steps = steps(decide_imported(&order, &links));
    let [Step::Update(update)] = &steps[..] else {
        panic!("expected one update, got {steps:?}");
    };
    assert_eq!(update.draft.ship_to.address.street, "Gran Vía 2");
}

#[test]
fn a_change_after_picking_started_is_a_conflict() {
    for state in [
        PulpoOrderState::Picking,
        PulpoOrderState::Packing,
        PulpoOrderState::Paused,
    ] {
        let mut order = order();
        let links = links_after_import(&order, state);
        order.fulfillment_orders[0] = fulfillment_order(501, "Berlin", &[(11, 3), (12, 1)]);
        assert_eq!(
            steps(decide_imported(&order, &links)),
            [Step::Conflict(Conflict {
                pulpo_order_id: 100,
                order_num: "1001".into(),
                state,
                reason: ConflictReason::ChangedAfterWorkStarted,
            })]
        );
    }
}

#[test]
fn our_own_fulfillment_after_pulpo_shipped_is_not_a_change() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Ended);
    order.fulfillment_status = FulfillmentStatus::Fulfilled;
    order.fulfillment_orders[0] = fulfillment_order(501, "Berlin", &[(11, 0), (12, 0)]);
    order.fulfillment_orders[0].status = FulfillmentOrderStatus::Closed;
    assert_eq!(decide_imported(&order, &links), Decision::Unchanged);
}

#[test]
fn nothing_left_to_ship_cancels_a_queued_order_and_flags_a_started_one() {
    let mut order = order();
    let queued = links_after_import(&order, PulpoOrderState::Queue);
    order.fulfillment_orders[0] = fulfillment_order(501, "Berlin", &[(11, 0), (12, 0)]);
    order.fulfillment_orders[0].status = FulfillmentOrderStatus::Closed;
    assert!(matches!(
        &steps(decide_imported(&order, &queued))[..],
        [Step::Cancel(c)] if c.reason == CancelReason::NothingLeftToShip
    ));

    let mut picking = queued;
    picking[0].state = PulpoOrderState::Picking;
    assert!(matches!(
        &steps(decide_imported(&order, &picking))[..],
        [Step::Conflict(c)] if c.reason == ConflictReason::NothingLeftAfterWorkStarted
    ));
}

#[test]
fn a_fulfillment_order_missing_from_shopify_is_a_conflict() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    order.fulfillment_orders = vec![];
    assert!(matches!(
        &steps(decide_imported(&order, &links))[..],
        [Step::Conflict(Conflict { reason: ConflictReason::FulfillmentOrderMissing { fulfillment_order_id }, .. })]
            if fulfillment_order_id == "gid://shopify/FulfillmentOrder/501"
    ));
}

#[test]
fn a_partial_move_updates_the_pulpo_order_and_creates_one_for_the_new_fulfillment_order() {
    let mut order = order();
    let links = links_after_import(&order, PulpoOrderState::Queue);
    // DEF-2 moved to Paris: Shopify gives it a new fulfillment order.
    order.fulfillment_orders = vec![
        fulfillment_order(501, "Berlin", &[(11, 2), (12, 0)]),
        fulfillment_order(502, "Paris", &[(12, 1)]),
    ];
    let steps = steps(decide_imported(&order, &links));
    let [Step::Update(update), Step::Create(created)] = &steps[..] else {
        panic!("expected an update and a create, got {steps:?}");
    };
    assert_eq!(update.draft.order_num, "1001");
    assert_eq!(line_quantities(&update.draft), [("11", "ABC-1", 2)]);
    // `1001` stays as it is; the new order takes the next number of the split.
    assert_eq!(created.order_num, "1001_2");
    assert_eq!(created.warehouse_id, PARIS);
    assert_eq!(line_quantities(created), [("12", "DEF-2", 1)]);
}

#[test]
fn new_order_numbers_never_reuse_one_already_taken() {
    let mut order = order();
    let mut links = links_after_import(&order, PulpoOrderState::Cancelled);
    // The first PULPO order was numbered `1001_1` and cancelled; a new fulfillment order that
    // sorts first must not take that number again.
    links[0].order_num = "1001_1".into();
    order.fulfillment_orders = vec![
        fulfillment_order(400, "Paris", &[(12, 1)]),
        fulfillment_order(501, "Berlin", &[(11, 0), (12, 0)]),
    ];
    let steps = steps(decide_imported(&order, &links));
    let [Step::Create(created)] = &steps[..] else {
        panic!("expected one create, got {steps:?}");
    };
    assert_eq!(created.order_num, "1001_2");
}

// --- Fingerprint and warehouses -------------------------------------------------------------

#[test]
fn the_fingerprint_ignores_line_order_but_not_content() {
    let draft = drafts(decide(&order())).remove(0);
    let mut reordered = draft.clone();
    reordered.lines.reverse();
    assert_eq!(draft.fingerprint(), reordered.fingerprint());

    let mut more = draft.clone();
    more.lines[0].quantity += 1;
    assert_ne!(draft.fingerprint(), more.fingerprint());

    let mut other_zip = draft.clone();
    other_zip.ship_to.address.zip = Some("28014".into());
    assert_ne!(draft.fingerprint(), other_zip.fingerprint());

    let mut no_zip = draft.clone();
    no_zip.ship_to.address.zip = None;
    let mut empty_zip = draft.clone();
    empty_zip.ship_to.address.zip = Some(String::new());
    assert_ne!(no_zip.fingerprint(), empty_zip.fingerprint());

    // Whitespace in Shopify never reads as a change.
    let mut padded = order();
    padded.shipping_address.as_mut().unwrap().city = Some(" Madrid ".into());
    assert_eq!(
        drafts(decide(&padded))[0].fingerprint(),
        draft.fingerprint()
    );
}

#[test]
fn the_fingerprint_is_stable_across_releases() {
    // Fingerprints are stored; this value must never change for the same content. It was
    // checked against an independent FNV-1a implementation of the documented encoding.
    let draft = drafts(decide(&order())).remove(0);
    assert_eq!(draft.fingerprint().to_string(), "06e2fbc3f04b03b0");
    let parsed: Fingerprint = "06e2fbc3f04b03b0".parse().unwrap();
    assert_eq!(parsed, draft.fingerprint());
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        "\"06e2fbc3f04b03b0\""
    );
    assert!("xyz".parse::<Fingerprint>().is_err());
}

#[test]
fn two_warehouses_with_one_name_are_an_error() {
    let error = Warehouses::new([("Berlin".to_owned(), 1), ("Berlin".to_owned(), 2)]).unwrap_err();
    assert_eq!(error.name, "Berlin");
    assert!(error.to_string().contains("rename one in PULPO"));
    // The same warehouse listed twice is fine.
    assert!(Warehouses::new([("Berlin".to_owned(), 1), ("Berlin".to_owned(), 1)]).is_ok());
}

#[test]
fn warehouse_names_must_match_exactly() {
    let warehouses = warehouses();
    assert_eq!(warehouses.id_of("Berlin"), Some(BERLIN));
    assert_eq!(warehouses.id_of("berlin"), None);
}
