//! Shipments and status updates on one order: reading its fulfillment orders and fulfillments,
//! creating a fulfillment per shipped box with tracking, correcting tracking later, adding tags
//! and rewriting the note.
//!
//! Costs by Shopify's fitted model (a connection is `2 + m(first) × node`, `m(10) = 4`,
//! `m(100) = 9`; a plain list costs like one object): [`ORDER_FULFILLMENT_STATE`] requests 117
//! points (fulfillments 22, fulfillment orders 94, the order 1), a further page of lines 21,
//! `fulfillmentCreate` 11, `fulfillmentTrackingInfoUpdate` 51 (as recorded), `tagsAdd` and
//! `orderUpdate` 10.
//!
//! Mutations are not idempotent. [`ShopifyClient::query`] sends a mutation again after a 5xx, a
//! 429 or a dropped connection; when Shopify had already applied the first send (the answer was
//! lost on the way back), the second one creates a second fulfillment, or is refused because
//! nothing remains to fulfil. Callers that must not ship twice read
//! [`ShopifyClient::order_fulfillment_state`] before writing again.

use serde::Deserialize;
use serde_json::{Value, json};
use tentacle_domain::order::{
    FulfillmentOrderStatus, FulfillmentStatus as DisplayFulfillmentStatus,
};

use crate::client::ShopifyClient;
use crate::error::{Result, ShopifyError};

/// Fulfillment orders read per page of an order.
pub const FULFILLMENT_ORDERS_PAGE: u32 = 10;
/// Lines read per page of a fulfillment order or a fulfillment.
pub const LINES_PAGE: u32 = 100;
/// Fulfillments read per order (`Order.fulfillments` is a list Shopify truncates, not a
/// connection one can page).
pub const MAX_FULFILLMENTS: usize = 250;
/// Tracking lines read per fulfillment.
pub const MAX_TRACKING: u32 = 10;

/// An order's fulfilment state: what is left to ship where, and what was shipped.
pub const ORDER_FULFILLMENT_STATE: &str = "query OrderFulfillmentState($id: ID!, $fulfillments: Int!, $tracking: Int!, $first: Int!, $after: String, $lines: Int!) {
  order(id: $id) {
    id displayFulfillmentStatus tags note
    fulfillments(first: $fulfillments) {
      id status
      trackingInfo(first: $tracking) { company number url }
      fulfillmentLineItems(first: $lines) {
        pageInfo { hasNextPage endCursor }
        nodes { id quantity lineItem { id } }
      }
    }
    fulfillmentOrders(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: $lines) {
          pageInfo { hasNextPage endCursor }
          nodes { id remainingQuantity totalQuantity lineItem { id } }
        }
      }
    }
  }
}";

/// The lines of one fulfillment order after the first page.
pub const FULFILLMENT_ORDER_LINES: &str =
    "query FulfillmentOrderLines($id: ID!, $first: Int!, $after: String) {
  fulfillmentOrder(id: $id) {
    lineItems(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id remainingQuantity totalQuantity lineItem { id } }
    }
  }
}";

/// The lines of one fulfillment after the first page.
pub const FULFILLMENT_LINES: &str =
    "query FulfillmentLines($id: ID!, $first: Int!, $after: String) {
  fulfillment(id: $id) {
    fulfillmentLineItems(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id quantity lineItem { id } }
    }
  }
}";

pub const FULFILLMENT_CREATE: &str = "mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}";

pub const FULFILLMENT_TRACKING_UPDATE: &str = "mutation FulfillmentTrackingUpdate($id: ID!, $tracking: FulfillmentTrackingInput!, $notify: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: $notify) {
    fulfillment { id status }
    userErrors { field message }
  }
}";

pub const TAGS_ADD: &str = "mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}";

/// Sets only the note: `orderUpdate` keeps every field the input leaves out.
pub const ORDER_NOTE_UPDATE: &str = "mutation OrderNoteUpdate($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id }
    userErrors { field message }
  }
}";

/// Shopify's `FulfillmentStatus`: how a fulfillment itself fared (not the order's display
/// status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentStatus {
    Success,
    Cancelled,
    Error,
    Failure,
    /// Deprecated by Shopify, still in the schema.
    Open,
    /// Deprecated by Shopify, still in the schema.
    Pending,
}

/// One carrier tracking line. A fulfillment may carry several (one per parcel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Tracking {
    pub company: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

impl Tracking {
    /// `FulfillmentTrackingInput`, leaving out what is unknown.
    fn input(&self) -> Value {
        let mut input = serde_json::Map::new();
        for (key, value) in [
            ("company", &self.company),
            ("number", &self.number),
            ("url", &self.url),
        ] {
            if let Some(value) = value {
                input.insert(key.into(), json!(value));
            }
        }
        Value::Object(input)
    }

    fn is_empty(&self) -> bool {
        self.company.is_none() && self.number.is_none() && self.url.is_none()
    }
}

/// What [`ShopifyClient::order_fulfillment_state`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFulfillments {
    /// `gid://shopify/Order/N`.
    pub order_id: String,
    pub display_fulfillment_status: DisplayFulfillmentStatus,
    /// Sorted, as Shopify returns them.
    pub tags: Vec<String>,
    pub note: Option<String>,
    /// Every fulfillment order, closed ones included.
    pub fulfillment_orders: Vec<FulfillmentOrderState>,
    /// Oldest first; at most [`MAX_FULFILLMENTS`].
    pub fulfillments: Vec<Fulfillment>,
    /// [`MAX_FULFILLMENTS`] were read, so Shopify may hold more than `fulfillments` shows.
    pub more_fulfillments: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FulfillmentOrderState {
    /// `gid://shopify/FulfillmentOrder/N`.
    pub id: String,
    pub status: FulfillmentOrderStatus,
    /// `gid://shopify/Location/N` of the assigned location; `None` when the location was deleted.
    pub location_id: Option<String>,
    pub lines: Vec<FulfillmentOrderLineState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrderLineState {
    /// `gid://shopify/FulfillmentOrderLineItem/N`: what [`NewFulfillment::lines`] names.
    pub id: String,
    /// `gid://shopify/LineItem/N`.
    pub line_item_id: String,
    pub remaining_quantity: u32,
    pub total_quantity: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fulfillment {
    /// `gid://shopify/Fulfillment/N`.
    pub id: String,
    pub status: FulfillmentStatus,
    /// At most [`MAX_TRACKING`] lines.
    pub tracking: Vec<Tracking>,
    pub lines: Vec<FulfillmentLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentLine {
    /// `gid://shopify/FulfillmentLineItem/N`: what a return names.
    pub id: String,
    /// `gid://shopify/LineItem/N`.
    pub line_item_id: String,
    pub quantity: u32,
}

/// One fulfillment of lines of one fulfillment order: one shipped box.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFulfillment {
    /// `gid://shopify/FulfillmentOrder/N`.
    pub fulfillment_order_id: String,
    /// (fulfillment order line item id, quantity). Empty fulfils every unit still remaining.
    pub lines: Vec<(String, u32)>,
    /// Sent only when something is known.
    pub tracking: Tracking,
    /// Whether Shopify emails the customer the shipping confirmation.
    pub notify_customer: bool,
}

/// A business refusal, in Shopify's words (`field` is the input path, e.g. `["fulfillment"]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserError {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub field: Vec<String>,
    pub message: String,
}

/// The fulfillment a mutation created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FulfillmentRef {
    pub id: String,
    pub status: FulfillmentStatus,
}

/// What `fulfillmentCreate` or `fulfillmentTrackingInfoUpdate` answered. Shopify applies a call
/// all or nothing: with any user error nothing changed and `fulfillment` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOutcome {
    pub fulfillment: Option<FulfillmentRef>,
    pub user_errors: Vec<UserError>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

impl ShopifyClient {
    /// The order's fulfilment state, every page of fulfillment orders and of lines read (and
    /// paced by the cost bucket like every call); `Ok(None)` when Shopify has no such order.
    pub async fn order_fulfillment_state(
        &self,
        order_id: &str,
    ) -> Result<Option<OrderFulfillments>> {
        let mut after: Option<String> = None;
        let mut state: Option<OrderFulfillments> = None;
        loop {
            let answer: StateAnswer = self
                .query(ORDER_FULFILLMENT_STATE, |_| {
                    json!({"id": order_id, "fulfillments": MAX_FULFILLMENTS, "tracking": MAX_TRACKING,
                        "first": FULFILLMENT_ORDERS_PAGE, "after": after, "lines": LINES_PAGE})
                })
                .await?;
            let Some(order) = answer.order else {
                return Ok(None);
            };
            let mut fulfillment_orders = Vec::with_capacity(order.fulfillment_orders.nodes.len());
            for fo in order.fulfillment_orders.nodes {
                let mut lines: Vec<FulfillmentOrderLineState> =
                    fo.line_items.nodes.into_iter().map(Into::into).collect();
                if fo.line_items.page_info.has_next_page {
                    let cursor = fo.line_items.page_info.next_cursor(&fo.id)?;
                    lines.extend(self.fulfillment_order_lines(&fo.id, cursor).await?);
                }
                fulfillment_orders.push(FulfillmentOrderState {
                    status: fo
                        .status
                        .parse::<FulfillmentOrderStatus>()
                        .map_err(|e| ShopifyError::Decode(e.to_string()))?,
                    location_id: fo.assigned_location.location.map(|l| l.id),
                    id: fo.id,
                    lines,
                });
            }
            let page_info = order.fulfillment_orders.page_info;
            match state.as_mut() {
                // Later pages re-read the order (cheap) and add only their fulfillment orders.
                Some(state) => state.fulfillment_orders.extend(fulfillment_orders),
                None => {
                    let mut fulfillments = Vec::with_capacity(order.fulfillments.len());
                    let more_fulfillments = order.fulfillments.len() >= MAX_FULFILLMENTS;
                    for f in order.fulfillments {
                        let mut lines: Vec<FulfillmentLine> = f
                            .fulfillment_line_items
                            .nodes
                            .into_iter()
                            .map(Into::into)
                            .collect();
                        if f.fulfillment_line_items.page_info.has_next_page {
                            let cursor = f.fulfillment_line_items.page_info.next_cursor(&f.id)?;
                            lines.extend(self.fulfillment_lines(&f.id, cursor).await?);
                        }
                        fulfillments.push(Fulfillment {
                            id: f.id,
                            status: f.status,
                            tracking: f.tracking_info,
                            lines,
                        });
                    }
                    state = Some(OrderFulfillments {
                        order_id: order.id,
                        display_fulfillment_status: order
                            .display_fulfillment_status
                            .parse::<DisplayFulfillmentStatus>()
                            .map_err(|e| ShopifyError::Decode(e.to_string()))?,
                        tags: order.tags,
                        note: order.note,
                        fulfillment_orders,
                        fulfillments,
                        more_fulfillments,
                    });
                }
            }
            if !page_info.has_next_page {
                return Ok(state);
            }
            after = Some(page_info.next_cursor(order_id)?);
        }
    }

    async fn fulfillment_order_lines(
        &self,
        id: &str,
        mut after: String,
    ) -> Result<Vec<FulfillmentOrderLineState>> {
        let mut lines = Vec::new();
        loop {
            let answer: FulfillmentOrderLinesAnswer = self
                .query(
                    FULFILLMENT_ORDER_LINES,
                    |_| json!({"id": id, "first": LINES_PAGE, "after": after}),
                )
                .await?;
            let page = answer
                .fulfillment_order
                .ok_or_else(|| {
                    ShopifyError::Decode(format!(
                        "fulfillment order {id} vanished while its lines were read"
                    ))
                })?
                .line_items;
            lines.extend(page.nodes.into_iter().map(Into::into));
            if !page.page_info.has_next_page {
                return Ok(lines);
            }
            after = page.page_info.next_cursor(id)?;
        }
    }

    async fn fulfillment_lines(&self, id: &str, mut after: String) -> Result<Vec<FulfillmentLine>> {
        let mut lines = Vec::new();
        loop {
            let answer: FulfillmentLinesAnswer = self
                .query(
                    FULFILLMENT_LINES,
                    |_| json!({"id": id, "first": LINES_PAGE, "after": after}),
                )
                .await?;
            let page = answer
                .fulfillment
                .ok_or_else(|| {
                    ShopifyError::Decode(format!(
                        "fulfillment {id} vanished while its lines were read"
                    ))
                })?
                .fulfillment_line_items;
            lines.extend(page.nodes.into_iter().map(Into::into));
            if !page.page_info.has_next_page {
                return Ok(lines);
            }
            after = page.page_info.next_cursor(id)?;
        }
    }

    /// Creates one fulfillment (one box) of `new`'s lines, with its tracking. A closed,
    /// cancelled or held fulfillment order and more units than remain come back as user errors,
    /// not as `Err`. Not idempotent, so never resent by the client: after
    /// [`ShopifyError::AnswerLost`](crate::ShopifyError::AnswerLost) the fulfillment may exist
    /// all the same, and the caller looks at the order before sending again.
    pub async fn fulfillment_create(&self, new: &NewFulfillment) -> Result<FulfillmentOutcome> {
        let mut group = json!({"fulfillmentOrderId": new.fulfillment_order_id});
        if !new.lines.is_empty() {
            group["fulfillmentOrderLineItems"] = new
                .lines
                .iter()
                .map(|(id, quantity)| json!({"id": id, "quantity": quantity}))
                .collect();
        }
        let mut input = json!({
            "lineItemsByFulfillmentOrder": [group],
            "notifyCustomer": new.notify_customer,
        });
        if !new.tracking.is_empty() {
            input["trackingInfo"] = new.tracking.input();
        }
        let answer: CreateAnswer = self
            .mutate_once(FULFILLMENT_CREATE, |_| json!({"fulfillment": input}))
            .await?;
        Ok(answer.fulfillment_create.into())
    }

    /// Replaces the tracking of fulfillment `fulfillment_id` with `tracking`. Sending the same
    /// tracking twice is harmless, so a resend after a lost answer is too.
    pub async fn fulfillment_tracking_update(
        &self,
        fulfillment_id: &str,
        tracking: &Tracking,
        notify_customer: bool,
    ) -> Result<FulfillmentOutcome> {
        let answer: TrackingAnswer = self
            .query(FULFILLMENT_TRACKING_UPDATE, |_| {
                json!({"id": fulfillment_id, "tracking": tracking.input(), "notify": notify_customer})
            })
            .await?;
        Ok(answer.fulfillment_tracking_info_update.into())
    }

    /// Adds `tags` to order `order_id`, keeping the ones it has (Shopify merges and sorts).
    /// Adding a tag twice changes nothing, so a resend is harmless. Empty = applied.
    pub async fn tags_add(&self, order_id: &str, tags: &[String]) -> Result<Vec<UserError>> {
        let answer: TagsAnswer = self
            .query(TAGS_ADD, |_| json!({"id": order_id, "tags": tags}))
            .await?;
        Ok(answer.tags_add.user_errors)
    }

    /// Sets the note of order `order_id` to `note`, leaving every other field as it is. The
    /// note is replaced, not appended to: read it first to append. Empty = applied.
    pub async fn order_note_update(&self, order_id: &str, note: &str) -> Result<Vec<UserError>> {
        let answer: NoteAnswer = self
            .query(
                ORDER_NOTE_UPDATE,
                |_| json!({"input": {"id": order_id, "note": note}}),
            )
            .await?;
        Ok(answer.order_update.user_errors)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    pub(crate) has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

impl PageInfo {
    /// Where the next page starts; a missing cursor with more pages would loop forever.
    pub(crate) fn next_cursor(&self, of: &str) -> Result<String> {
        self.end_cursor
            .clone()
            .ok_or_else(|| ShopifyError::Decode(format!("{of}: more pages but no endCursor")))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    pub(crate) page_info: PageInfo,
    pub(crate) nodes: Vec<T>,
}

#[derive(Deserialize)]
struct StateAnswer {
    order: Option<OrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderNode {
    id: String,
    display_fulfillment_status: String,
    tags: Vec<String>,
    note: Option<String>,
    fulfillments: Vec<FulfillmentNode>,
    fulfillment_orders: Page<FulfillmentOrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentNode {
    id: String,
    status: FulfillmentStatus,
    tracking_info: Vec<Tracking>,
    fulfillment_line_items: Page<FulfillmentLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentLineNode {
    id: String,
    quantity: Option<u32>,
    line_item: IdNode,
}

impl From<FulfillmentLineNode> for FulfillmentLine {
    fn from(node: FulfillmentLineNode) -> Self {
        FulfillmentLine {
            id: node.id,
            line_item_id: node.line_item.id,
            // `FulfillmentLineItem.quantity` is nullable in the schema; no quantity, no units.
            quantity: node.quantity.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderNode {
    id: String,
    status: String,
    assigned_location: AssignedLocation,
    line_items: Page<FulfillmentOrderLineNode>,
}

#[derive(Deserialize)]
struct AssignedLocation {
    location: Option<IdNode>,
}

#[derive(Deserialize)]
pub(crate) struct IdNode {
    pub(crate) id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderLineNode {
    id: String,
    remaining_quantity: u32,
    total_quantity: u32,
    line_item: IdNode,
}

impl From<FulfillmentOrderLineNode> for FulfillmentOrderLineState {
    fn from(node: FulfillmentOrderLineNode) -> Self {
        FulfillmentOrderLineState {
            id: node.id,
            line_item_id: node.line_item.id,
            remaining_quantity: node.remaining_quantity,
            total_quantity: node.total_quantity,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderLinesAnswer {
    fulfillment_order: Option<FulfillmentOrderLinesNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderLinesNode {
    line_items: Page<FulfillmentOrderLineNode>,
}

#[derive(Deserialize)]
struct FulfillmentLinesAnswer {
    fulfillment: Option<FulfillmentLinesNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentLinesNode {
    fulfillment_line_items: Page<FulfillmentLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentPayload {
    fulfillment: Option<FulfillmentRef>,
    user_errors: Vec<UserError>,
}

impl From<FulfillmentPayload> for FulfillmentOutcome {
    fn from(payload: FulfillmentPayload) -> Self {
        FulfillmentOutcome {
            fulfillment: payload.fulfillment,
            user_errors: payload.user_errors,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAnswer {
    fulfillment_create: FulfillmentPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrackingAnswer {
    fulfillment_tracking_info_update: FulfillmentPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorsPayload {
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagsAnswer {
    tags_add: ErrorsPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NoteAnswer {
    order_update: ErrorsPayload,
}
