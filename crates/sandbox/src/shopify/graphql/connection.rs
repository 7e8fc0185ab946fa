//! Cursor pagination as Shopify does it: `first`/`after` and `last`/`before`, at most 250,
//! cursors that are base64 of `{"last_id":N,"last_value":V}` (epoch milliseconds for timestamp
//! sorts, the id for `ID`), and `pageInfo` computed against the whole sorted list in both
//! directions.

use std::cmp::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::cost::MAX_PAGE;
use super::errors::FieldError;

/// A value items are sorted by; ties are broken by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

impl SortValue {
    fn to_json(&self) -> Value {
        match self {
            SortValue::Int(n) => json!(n),
            SortValue::Text(s) => json!(s),
        }
    }

    fn from_json(value: &Value) -> Option<SortValue> {
        match value {
            Value::Number(n) => n.as_i64().map(SortValue::Int),
            Value::String(s) => Some(SortValue::Text(s.clone())),
            _ => None,
        }
    }
}

/// The paging arguments of one connection field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub reverse: bool,
}

impl PageArgs {
    /// Reads the arguments and applies Shopify's `first`/`last` rules.
    pub fn read(args: &Map<String, Value>, field: &str) -> Result<PageArgs, FieldError> {
        let int = |name: &str| args.get(name).and_then(Value::as_i64);
        let text = |name: &str| args.get(name).and_then(Value::as_str).map(str::to_string);
        let page = PageArgs {
            first: int("first"),
            last: int("last"),
            after: text("after"),
            before: text("before"),
            reverse: args.get("reverse").and_then(Value::as_bool) == Some(true),
        };
        match (page.first, page.last) {
            (None, None) => {
                return Err(FieldError::bad_request(
                    "you must provide one of first or last",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(FieldError::bad_request(
                    "providing both first and last is not supported",
                ));
            }
            _ => {}
        }
        for (name, size) in [("first", page.first), ("last", page.last)] {
            if let Some(size) = size
                && !(0..=MAX_PAGE).contains(&size)
            {
                return Err(FieldError::bad_request(format!(
                    "Argument '{name}' on Field '{field}' has an invalid value ({size}). Expected a page size from 0 to {MAX_PAGE}."
                )));
            }
        }
        Ok(page)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// One page: the items with their cursors.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(T, String)>,
    pub info: PageInfo,
}

pub fn encode_cursor(id: u64, value: &SortValue) -> String {
    let body = json!({"last_id": id, "last_value": value.to_json()});
    STANDARD.encode(body.to_string())
}

/// The `(last_value, last_id)` in a cursor, or `None` when it is not one of ours.
pub fn decode_cursor(cursor: &str) -> Option<(SortValue, u64)> {
    let bytes = STANDARD.decode(cursor.trim()).ok()?;
    let body: Value = serde_json::from_slice(&bytes).ok()?;
    let id = body.get("last_id")?.as_u64()?;
    let value = SortValue::from_json(body.get("last_value")?)?;
    Some((value, id))
}

/// Pages `items` (any order; each with its sort value and id) by `args`.
pub fn paginate<T>(
    mut items: Vec<(SortValue, u64, T)>,
    args: &PageArgs,
) -> Result<Page<T>, FieldError> {
    items.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    if args.reverse {
        items.reverse();
    }
    let forward = |a: &(SortValue, u64), b: &(SortValue, u64)| -> Ordering {
        let natural = (&a.0, a.1).cmp(&(&b.0, b.1));
        if args.reverse {
            natural.reverse()
        } else {
            natural
        }
    };
    let bound = |cursor: &Option<String>| -> Result<Option<(SortValue, u64)>, FieldError> {
        match cursor {
            None => Ok(None),
            Some(c) => decode_cursor(c)
                .map(Some)
                .ok_or_else(|| FieldError::bad_request(format!("Invalid cursor: {c}"))),
        }
    };
    let after = bound(&args.after)?;
    let before = bound(&args.before)?;
    // Window [start, end) of items strictly after `after` and strictly before `before`.
    let start = match &after {
        Some(cursor) => items
            .partition_point(|(v, id, _)| forward(&(v.clone(), *id), cursor) != Ordering::Greater),
        None => 0,
    };
    let end = match &before {
        Some(cursor) => {
            items.partition_point(|(v, id, _)| forward(&(v.clone(), *id), cursor) == Ordering::Less)
        }
        None => items.len(),
    }
    .max(start);
    let (from, to) = match (args.first, args.last) {
        (Some(n), _) => (start, (start + clamp_size(n)).min(end)),
        (_, Some(n)) => (end.saturating_sub(clamp_size(n)).max(start), end),
        _ => (start, end),
    };
    let total = items.len();
    let selected: Vec<(T, String)> = items
        .into_iter()
        .skip(from)
        .take(to - from)
        .map(|(value, id, item)| (item, encode_cursor(id, &value)))
        .collect();
    let info = PageInfo {
        has_next_page: to < total,
        has_previous_page: from > 0,
        start_cursor: selected.first().map(|(_, c)| c.clone()),
        end_cursor: selected.last().map(|(_, c)| c.clone()),
    };
    Ok(Page {
        items: selected,
        info,
    })
}

fn clamp_size(n: i64) -> usize {
    usize::try_from(n.clamp(0, MAX_PAGE)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &Page<u64>) -> Vec<u64> {
        page.items.iter().map(|(id, _)| *id).collect()
    }

    fn items() -> Vec<(SortValue, u64, u64)> {
        (1..=5)
            .map(|id| (SortValue::Int(100 - id as i64), id, id))
            .collect()
    }

    #[test]
    fn pages_forward_and_backward_with_cursors() {
        let first = PageArgs {
            first: Some(2),
            ..Default::default()
        };
        let page = paginate(items(), &first).unwrap_or_else(|e| panic!("{e:?}"));
        // Sorted by value ascending: ids 5, 4, 3, 2, 1.
        assert_eq!(ids(&page), vec![5, 4]);
        assert!(page.info.has_next_page && !page.info.has_previous_page);
        let end = page.info.end_cursor.clone();
        assert_eq!(
            end.as_deref().and_then(decode_cursor),
            Some((SortValue::Int(96), 4))
        );
        let next = PageArgs {
            first: Some(2),
            after: end,
            ..Default::default()
        };
        let page = paginate(items(), &next).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ids(&page), vec![3, 2]);
        assert!(page.info.has_next_page && page.info.has_previous_page);
        let back = PageArgs {
            last: Some(5),
            before: page.info.start_cursor.clone(),
            ..Default::default()
        };
        let page = paginate(items(), &back).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ids(&page), vec![5, 4]);
        assert!(!page.info.has_previous_page && page.info.has_next_page);
        let reversed = PageArgs {
            first: Some(1),
            reverse: true,
            ..Default::default()
        };
        let page = paginate(items(), &reversed).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ids(&page), vec![1]);
        let empty = paginate(Vec::<(SortValue, u64, u64)>::new(), &first)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(empty.info.start_cursor, None);
        assert_eq!(empty.info.end_cursor, None);
    }

    #[test]
    fn first_and_last_rules() {
        let message =
            |args: Map<String, Value>| PageArgs::read(&args, "orders").err().map(|e| e.message);
        let map = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        assert_eq!(
            message(Map::new()).as_deref(),
            Some("you must provide one of first or last")
        );
        assert_eq!(
            message(map(json!({"first": 1, "last": 1}))).as_deref(),
            Some("providing both first and last is not supported")
        );
        assert_eq!(
            message(map(json!({"first": 300}))).as_deref(),
            Some(
                "Argument 'first' on Field 'orders' has an invalid value (300). Expected a page size from 0 to 250."
            )
        );
    }
}
