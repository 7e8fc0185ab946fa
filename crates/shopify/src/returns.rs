//! Returns and refunds on one order: reading the returns Shopify holds (their lines, by
//! fulfillment line item) with the order's financial status, creating a return of fulfilled
//! units, reading what is left to refund, and refunding returned units and shipping.
//!
//! `returnCreate` costs 10 like every mutation; [`ORDER_RETURNS`] is one page of
//! [`RETURNS_PAGE`] returns of [`RETURN_LINES`] lines each.
//!
//! `refundCreate` takes an `@idempotent` key (required from 2026-04): the client resends it like
//! a query, and Shopify makes one refund per key. `returnCreate` is not idempotent: it goes through [`ShopifyClient::mutate_once`], and after
//! [`ShopifyError::AnswerLost`] the return may exist all the same, so the caller reads
//! [`ShopifyClient::order_returns`] before sending again. Creating a return never restocks.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::ShopifyClient;
use crate::error::{Result, ShopifyError};
use crate::fulfillments::{IdNode, Page, UserError};

/// Returns read per page of an order.
pub const RETURNS_PAGE: u32 = 10;
/// Lines read per return: a return holds the lines of one order, and an order with more
/// lines than this in one return is read as [`OrderReturns::more_lines`].
pub const RETURN_LINES: u32 = 50;

/// An order's returns and what was paid and refunded.
pub const ORDER_RETURNS: &str =
    "query OrderReturns($id: ID!, $first: Int!, $after: String, $lines: Int!) {
  order(id: $id) {
    id displayFinancialStatus returnStatus
    returns(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id name status
        returnLineItems(first: $lines) {
          pageInfo { hasNextPage endCursor }
          nodes {
            quantity
            ... on ReturnLineItem { fulfillmentLineItem { id lineItem { id } } }
          }
        }
      }
    }
  }
}";

pub const RETURN_CREATE: &str = "mutation ReturnCreate($input: ReturnInput!) {
  returnCreate(returnInput: $input) {
    return { id name status }
    userErrors { field message code }
  }
}";

/// Lines read per page of an order's refundable lines.
pub const REFUNDABLE_LINES: u32 = 100;
/// Transactions and refunds read per order (plain lists Shopify truncates).
pub const MAX_TRANSACTIONS: u32 = 50;

/// What is left to refund of an order, and how its money came in.
pub const ORDER_REFUNDABLE: &str = "query OrderRefundable($id: ID!, $first: Int!, $after: String, $max: Int!) {
  order(id: $id) {
    id currencyCode
    totalReceivedSet { shopMoney { amount } }
    totalRefundedSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } }
    totalRefundedShippingSet { shopMoney { amount } }
    transactions(first: $max) { id kind status gateway }
    refunds(first: $max) { id note }
    lineItems(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id refundableQuantity discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } } }
    }
  }
}";

pub const REFUND_CREATE: &str = "mutation RefundCreate($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id }
    userErrors { field message }
  }
}";

/// What [`ShopifyClient::order_refundable`] read. Amounts in the shop's currency.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRefundable {
    pub currency: String,
    pub received: Decimal,
    pub refunded: Decimal,
    pub shipping: Decimal,
    pub shipping_refunded: Decimal,
    /// The successful `SALE` or `CAPTURE` a refund goes back through: (id, gateway).
    pub payment: Option<(String, String)>,
    /// The refunds the order has: (id, note).
    pub refunds: Vec<(String, Option<String>)>,
    pub lines: Vec<RefundableLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundableLine {
    /// `gid://shopify/LineItem/N`.
    pub id: String,
    pub refundable_quantity: u32,
    /// What the order charged for one unit, after every discount.
    pub unit_price: Decimal,
}

/// A refund of returned units (never restocked) and shipping, its money back through the
/// order's payment.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefund {
    /// `gid://shopify/Order/N`.
    pub order_id: String,
    /// (line item gid, units).
    pub lines: Vec<(String, u32)>,
    pub shipping: Decimal,
    pub amount: Decimal,
    /// The transaction the money goes back through, (id, gateway); none when no money moves.
    pub payment: Option<(String, String)>,
    pub note: String,
    pub notify: bool,
}

/// What `refundCreate` answered: with any user error nothing was refunded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// `gid://shopify/Refund/N`.
    pub refund_id: Option<String>,
    pub user_errors: Vec<UserError>,
}

/// What [`ShopifyClient::order_returns`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderReturns {
    /// `displayFinancialStatus` (`PAID`, `REFUNDED`, …); `None` when Shopify gives none.
    pub financial_status: Option<String>,
    /// `returnStatus` (`NO_RETURN`, `IN_PROGRESS`, …).
    pub return_status: String,
    /// Oldest first.
    pub returns: Vec<OrderReturn>,
    /// A return had more than [`RETURN_LINES`] lines: the lines read are not all it holds.
    pub more_lines: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderReturn {
    /// `gid://shopify/Return/N`.
    pub id: String,
    /// `#1001-R1`.
    pub name: String,
    /// `ReturnStatus`: `OPEN`, `CLOSED`, `CANCELED`, `DECLINED`, `REQUESTED`.
    pub status: String,
    pub lines: Vec<ReturnLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnLine {
    /// `gid://shopify/FulfillmentLineItem/N`; `None` for a line Shopify could not tie to a
    /// fulfillment (an unverified return line).
    pub fulfillment_line_item_id: Option<String>,
    /// `gid://shopify/LineItem/N`, likewise.
    pub line_item_id: Option<String>,
    pub quantity: u32,
}

/// A return to create: units of fulfillment line items of one order, left open, not restocked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReturn {
    /// `gid://shopify/Order/N`.
    pub order_id: String,
    pub lines: Vec<NewReturnLine>,
    /// Whether Shopify emails the customer about the return.
    pub notify_customer: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewReturnLine {
    /// `gid://shopify/FulfillmentLineItem/N`.
    pub fulfillment_line_item_id: String,
    pub quantity: u32,
    /// A `ReturnReason` value, e.g. `DEFECTIVE`.
    pub reason: String,
    /// Shopify keeps at most 255 characters.
    pub note: String,
}

/// The return a `returnCreate` made.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReturnRef {
    pub id: String,
    pub name: String,
    pub status: String,
}

/// What `returnCreate` answered: with any user error nothing was made and `created` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnOutcome {
    pub created: Option<ReturnRef>,
    pub user_errors: Vec<UserError>,
}

impl ShopifyClient {
    /// What is left to refund of the order, every page of lines; `Ok(None)` when Shopify has no
    /// such order.
    pub async fn order_refundable(&self, order_id: &str) -> Result<Option<OrderRefundable>> {
        let mut after: Option<String> = None;
        let mut read: Option<OrderRefundable> = None;
        loop {
            let answer: RefundableAnswer = self
                .query(ORDER_REFUNDABLE, |_| {
                    json!({"id": order_id, "first": REFUNDABLE_LINES, "after": after, "max": MAX_TRANSACTIONS})
                })
                .await?;
            let Some(order) = answer.order else {
                return Ok(None);
            };
            let amount = |money: &MoneyBag| -> Result<Decimal> {
                money.shop_money.amount.parse().map_err(|_| {
                    ShopifyError::Decode(format!("amount {:?}", money.shop_money.amount))
                })
            };
            let mut lines = Vec::with_capacity(order.line_items.nodes.len());
            for line in &order.line_items.nodes {
                lines.push(RefundableLine {
                    id: line.id.clone(),
                    refundable_quantity: line.refundable_quantity,
                    unit_price: amount(&line.discounted_unit_price_after_all_discounts_set)?,
                });
            }
            match read.as_mut() {
                // Later pages re-read the order (cheap) and add only their lines.
                Some(state) => state.lines.extend(lines),
                None => {
                    read = Some(OrderRefundable {
                        currency: order.currency_code.clone(),
                        received: amount(&order.total_received_set)?,
                        refunded: amount(&order.total_refunded_set)?,
                        shipping: amount(&order.total_shipping_price_set)?,
                        shipping_refunded: amount(&order.total_refunded_shipping_set)?,
                        payment: order
                            .transactions
                            .iter()
                            .find(|t| {
                                t.status == "SUCCESS"
                                    && matches!(t.kind.as_str(), "SALE" | "CAPTURE")
                            })
                            .map(|t| (t.id.clone(), t.gateway.clone().unwrap_or_default())),
                        refunds: order
                            .refunds
                            .iter()
                            .map(|r| (r.id.clone(), r.note.clone()))
                            .collect(),
                        lines,
                    });
                }
            }
            if !order.line_items.page_info.has_next_page {
                return Ok(read);
            }
            after = Some(order.line_items.page_info.next_cursor(order_id)?);
        }
    }

    /// Refunds `new` under `idempotency_key`: the units taken back with `NO_RESTOCK`, the
    /// shipping, and the money through the order's payment. Resent after a lost answer like a
    /// query: Shopify makes one refund per key, and answers a resend with the first one.
    /// Refusals come back as user errors, not as `Err`.
    pub async fn refund_create(
        &self,
        new: &NewRefund,
        idempotency_key: &str,
    ) -> Result<RefundOutcome> {
        let lines: Vec<Value> = new
            .lines
            .iter()
            .map(|(id, quantity)| {
                json!({"lineItemId": id, "quantity": quantity, "restockType": "NO_RESTOCK"})
            })
            .collect();
        let mut input = json!({
            "orderId": new.order_id,
            "refundLineItems": lines,
            "note": new.note,
            "notify": new.notify,
        });
        if new.shipping > Decimal::ZERO {
            input["shipping"] = json!({"amount": new.shipping.to_string()});
        }
        if let Some((parent, gateway)) = new.payment.as_ref().filter(|_| new.amount > Decimal::ZERO)
        {
            input["transactions"] = json!([{
                "orderId": new.order_id, "parentId": parent, "gateway": gateway,
                "kind": "REFUND", "amount": new.amount.to_string(),
            }]);
        }
        let answer: RefundAnswer = self
            .query(
                REFUND_CREATE,
                |_| json!({"input": input, "key": idempotency_key}),
            )
            .await?;
        let payload = answer.refund_create;
        if payload.refund.is_none() && payload.user_errors.is_empty() {
            return Err(ShopifyError::Decode(
                "refundCreate answered neither a refund nor a user error".into(),
            ));
        }
        Ok(RefundOutcome {
            refund_id: payload.refund.map(|r| r.id),
            user_errors: payload.user_errors,
        })
    }

    /// The order's returns, every page; `Ok(None)` when Shopify has no such order.
    pub async fn order_returns(&self, order_id: &str) -> Result<Option<OrderReturns>> {
        let mut after: Option<String> = None;
        let mut read: Option<OrderReturns> = None;
        loop {
            let answer: ReturnsAnswer = self
                .query(ORDER_RETURNS, |_| {
                    json!({"id": order_id, "first": RETURNS_PAGE, "after": after, "lines": RETURN_LINES})
                })
                .await?;
            let Some(order) = answer.order else {
                return Ok(None);
            };
            let state = read.get_or_insert_with(|| OrderReturns {
                financial_status: order.display_financial_status.clone(),
                return_status: order.return_status.clone(),
                returns: Vec::new(),
                more_lines: false,
            });
            for node in order.returns.nodes {
                state.more_lines |= node.return_line_items.page_info.has_next_page;
                state.returns.push(OrderReturn {
                    id: node.id,
                    name: node.name,
                    status: node.status,
                    lines: node
                        .return_line_items
                        .nodes
                        .into_iter()
                        .map(|line| ReturnLine {
                            fulfillment_line_item_id: line
                                .fulfillment_line_item
                                .as_ref()
                                .map(|f| f.id.clone()),
                            line_item_id: line.fulfillment_line_item.map(|f| f.line_item.id),
                            quantity: line.quantity,
                        })
                        .collect(),
                });
            }
            if !order.returns.page_info.has_next_page {
                return Ok(read);
            }
            after = Some(order.returns.page_info.next_cursor(order_id)?);
        }
    }

    /// Creates an open return of `new`'s lines (nothing restocked). Units not left to return
    /// and unknown lines come back as user errors, not as `Err`. Never resent by the client:
    /// after [`ShopifyError::AnswerLost`] the return may exist, and the caller looks at
    /// [`ShopifyClient::order_returns`] before sending again.
    pub async fn return_create(&self, new: &NewReturn) -> Result<ReturnOutcome> {
        let lines: Vec<Value> = new
            .lines
            .iter()
            .map(|line| {
                json!({
                    "fulfillmentLineItemId": line.fulfillment_line_item_id,
                    "quantity": line.quantity,
                    "returnReason": line.reason,
                    "returnReasonNote": line.note.chars().take(255).collect::<String>(),
                })
            })
            .collect();
        let input = json!({
            "orderId": new.order_id,
            "returnLineItems": lines,
            "notifyCustomer": new.notify_customer,
        });
        let answer: CreateAnswer = self
            .mutate_once(RETURN_CREATE, |_| json!({"input": input}))
            .await?;
        let payload = answer.return_create;
        if payload.created.is_none() && payload.user_errors.is_empty() {
            return Err(ShopifyError::Decode(
                "returnCreate answered neither a return nor a user error".into(),
            ));
        }
        Ok(ReturnOutcome {
            created: payload.created,
            user_errors: payload.user_errors,
        })
    }
}

#[derive(Deserialize)]
struct ReturnsAnswer {
    order: Option<OrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderNode {
    display_financial_status: Option<String>,
    return_status: String,
    returns: Page<ReturnNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReturnNode {
    id: String,
    name: String,
    status: String,
    return_line_items: Page<ReturnLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReturnLineNode {
    quantity: u32,
    /// Only on `ReturnLineItem` (the fragment), not on unverified lines.
    #[serde(default)]
    fulfillment_line_item: Option<FulfillmentLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentLineNode {
    id: String,
    line_item: IdNode,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAnswer {
    return_create: CreatePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePayload {
    #[serde(rename = "return")]
    created: Option<ReturnRef>,
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct RefundableAnswer {
    order: Option<RefundableNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundableNode {
    currency_code: String,
    total_received_set: MoneyBag,
    total_refunded_set: MoneyBag,
    total_shipping_price_set: MoneyBag,
    total_refunded_shipping_set: MoneyBag,
    transactions: Vec<TransactionNode>,
    refunds: Vec<RefundNode>,
    line_items: Page<RefundableLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: Money,
}

#[derive(Deserialize)]
struct Money {
    amount: String,
}

#[derive(Deserialize)]
struct TransactionNode {
    id: String,
    kind: String,
    status: String,
    gateway: Option<String>,
}

#[derive(Deserialize)]
struct RefundNode {
    id: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundableLineNode {
    id: String,
    refundable_quantity: u32,
    discounted_unit_price_after_all_discounts_set: MoneyBag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundAnswer {
    refund_create: RefundPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundPayload {
    refund: Option<IdNode>,
    user_errors: Vec<UserError>,
}
