//! Returns on one order: reading the returns Shopify holds (their lines, by fulfillment line
//! item) with the order's financial status, and creating a return of fulfilled units.
//!
//! `returnCreate` costs 10 like every mutation; [`ORDER_RETURNS`] is one page of
//! [`RETURNS_PAGE`] returns of [`RETURN_LINES`] lines each.
//!
//! `returnCreate` is not idempotent: it goes through [`ShopifyClient::mutate_once`], and after
//! [`ShopifyError::AnswerLost`] the return may exist all the same, so the caller reads
//! [`ShopifyClient::order_returns`] before sending again. Creating a return never restocks.

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
