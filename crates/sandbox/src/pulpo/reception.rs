//! Reception read endpoint (reference §B.11): the incoming goods, of which the returns
//! (`document_type` `return`) are what the sandbox receives, through the control API
//! (`POST /sandbox/reception/returns`).

use axum::Json;
use axum::extract::State;

use super::PulpoState;
use super::error::ApiError;
use super::model::{IncomingGood, ListResponse};
use super::query::{Params, allows};

/// `GET /reception/incoming_goods` (filters `purchase_order_id`, `start_date`, `end_date`,
/// `owner_id`, `document_type`, `inserted_at`, `sequence_number`, `merchant_id`, each with
/// PULPO's operators: `inserted_at=gte:<timestamp>`), by id, paged.
pub async fn list_incoming_goods(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<IncomingGood>>, ApiError> {
    let purchase_order_id = params.ids("purchase_order_id")?;
    let start_date = params.times("start_date")?;
    let end_date = params.times("end_date")?;
    let owner_id = params.ids("owner_id")?;
    let document_type = params.text("document_type")?;
    let inserted_at = params.times("inserted_at")?;
    let sequence_number = params.text("sequence_number")?;
    let merchant_id = params.ids("merchant_id")?;
    let page = params.page()?;
    let store = state.store();
    let matches: Vec<&IncomingGood> = store
        .incoming_goods
        .values()
        .filter(|g| {
            allows(&purchase_order_id, g.purchase_order_id.as_ref())
                && allows(&start_date, g.start_date.as_ref())
                && allows(&end_date, g.end_date.as_ref())
                && allows(&owner_id, g.owner_id.as_ref())
                && allows(&document_type, Some(&g.document_type))
                && allows(&inserted_at, Some(&g.inserted_at))
                && allows(&sequence_number, Some(&g.sequence_number))
                && allows(&merchant_id, g.merchant_id.as_ref())
        })
        .collect();
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "incoming_goods",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}
