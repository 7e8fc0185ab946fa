//! PULPO's query-string conventions (reference §B.3.1–B.3.3): `limit`/`offset` pagination and
//! filter values with operators (`gte:`, `gt:`, `lte:`, `lt:`, `between:a,b`, `to_list:a,b`).
//!
//! A parameter may be repeated (`updated_at=gte:a&updated_at=lt:b`, all must hold) or sent as
//! `name[]`; repeated plain values, and comma-separated plain values of id parameters, form a
//! list (`id=1&id=2`, `id=1,2`, `id[]=1`), which is how clients send the "list of ids" filters.

use std::borrow::Borrow;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::error::ApiError;
use super::model::Id;

/// PULPO's default page size (the spec: "default limit and offset are 0 and 10", read as
/// limit 10, offset 0).
pub const DEFAULT_LIMIT: usize = 10;

/// The raw query pairs of a request, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| Params(pairs))
            .map_err(|rejection| ApiError::bad_request("query", &rejection.body_text()))
    }
}

/// A comparison one filter value asks for.
#[derive(Debug, Clone, PartialEq)]
enum Condition<T> {
    Equal(T),
    OneOf(Vec<T>),
    Greater(T),
    GreaterOrEqual(T),
    Less(T),
    LessOrEqual(T),
    Between(T, T),
}

impl<T> Condition<T> {
    fn holds<V: PartialOrd + ?Sized>(&self, value: &V) -> bool
    where
        T: Borrow<V>,
    {
        match self {
            Condition::Equal(wanted) => value == wanted.borrow(),
            Condition::OneOf(wanted) => wanted.iter().any(|w| value == w.borrow()),
            Condition::Greater(bound) => value > bound.borrow(),
            Condition::GreaterOrEqual(bound) => value >= bound.borrow(),
            Condition::Less(bound) => value < bound.borrow(),
            Condition::LessOrEqual(bound) => value <= bound.borrow(),
            Condition::Between(low, high) => value >= low.borrow() && value <= high.borrow(),
        }
    }
}

/// Every condition given for one parameter; a value matches when all hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter<T>(Vec<Condition<T>>);

impl<T> Filter<T> {
    pub fn matches<V: PartialOrd + ?Sized>(&self, value: &V) -> bool
    where
        T: Borrow<V>,
    {
        self.0.iter().all(|condition| condition.holds(value))
    }

    /// An unset value matches no filter.
    pub fn matches_option<V: PartialOrd + ?Sized>(&self, value: Option<&V>) -> bool
    where
        T: Borrow<V>,
    {
        value.is_some_and(|value| self.matches(value))
    }

    /// The values that match, when the filter is a single equality or list condition: a
    /// lookup by them needs no further check (a list of a thousand ids is not compared with
    /// each candidate again).
    pub fn exactly(&self) -> Option<&[T]> {
        match self.0.as_slice() {
            [Condition::Equal(wanted)] => Some(std::slice::from_ref(wanted)),
            [Condition::OneOf(wanted)] => Some(wanted.as_slice()),
            _ => None,
        }
    }

    /// The only values that can match, when an equality or list condition bounds them: lets a
    /// search use an index instead of scanning.
    pub fn candidates(&self) -> Option<&[T]> {
        self.0.iter().find_map(|condition| match condition {
            Condition::Equal(wanted) => Some(std::slice::from_ref(wanted)),
            Condition::OneOf(wanted) => Some(wanted.as_slice()),
            _ => None,
        })
    }
}

/// Whether an optional filter lets `value` through (no filter lets everything through).
pub fn allows<T, V: PartialOrd + ?Sized>(filter: &Option<Filter<T>>, value: Option<&V>) -> bool
where
    T: Borrow<V>,
{
    filter
        .as_ref()
        .is_none_or(|filter| filter.matches_option(value))
}

/// `limit` and `offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl Page {
    /// The page of `matches`, and how many matched in all.
    pub fn apply<T>(self, matches: Vec<T>) -> (Vec<T>, usize) {
        let total = matches.len();
        let page = matches
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (page, total)
    }
}

impl Params {
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The values given for `name` (also as `name[]`), in order.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.0.iter().filter_map(move |(key, value)| {
            let key = key.strip_suffix("[]").unwrap_or(key);
            (key == name).then_some(value.as_str())
        })
    }

    /// The last value given for `name`.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.values(name).last()
    }

    fn filter<T>(
        &self,
        name: &str,
        split_plain_lists: bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<Filter<T>>, ApiError> {
        let invalid = || ApiError::bad_request(name, "is invalid");
        let mut conditions = Vec::new();
        let mut plain = Vec::new();
        for raw in self.values(name) {
            // `id=id:to_list:1,2` is also written (reference §B.3.2).
            let raw = raw
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(':'))
                .unwrap_or(raw);
            let list = |items: &str| -> Result<Vec<T>, ApiError> {
                items
                    .split(',')
                    .map(|item| parse(item.trim()).ok_or_else(invalid))
                    .collect()
            };
            let one = |item: &str| parse(item.trim()).ok_or_else(invalid);
            let condition = if let Some(items) = raw.strip_prefix("to_list:") {
                Condition::OneOf(list(items)?)
            } else if let Some(range) = raw.strip_prefix("between:") {
                let (low, high) = range.split_once(',').ok_or_else(invalid)?;
                Condition::Between(one(low)?, one(high)?)
            } else if let Some(bound) = raw.strip_prefix("gte:") {
                Condition::GreaterOrEqual(one(bound)?)
            } else if let Some(bound) = raw.strip_prefix("gt:") {
                Condition::Greater(one(bound)?)
            } else if let Some(bound) = raw.strip_prefix("lte:") {
                Condition::LessOrEqual(one(bound)?)
            } else if let Some(bound) = raw.strip_prefix("lt:") {
                Condition::Less(one(bound)?)
            } else {
                if split_plain_lists {
                    plain.extend(list(raw)?);
                } else {
                    plain.push(one(raw)?);
                }
                continue;
            };
            conditions.push(condition);
        }
        match plain.len() {
            0 => {}
            1 => conditions.extend(plain.pop().map(Condition::Equal)),
            _ => conditions.push(Condition::OneOf(plain)),
        }
        Ok((!conditions.is_empty()).then_some(Filter(conditions)))
    }

    /// An integer filter (ids, quantities); plain comma-separated values are a list.
    pub fn ids(&self, name: &str) -> Result<Option<Filter<i64>>, ApiError> {
        self.filter(name, true, |value| value.parse().ok())
    }

    /// A text filter: exact match, or `to_list:`.
    pub fn text(&self, name: &str) -> Result<Option<Filter<String>>, ApiError> {
        self.filter(name, false, |value| Some(value.to_string()))
    }

    /// A timestamp filter (`YYYY-MM-DD hh:mm:ss`, ISO-8601 with optional fraction and offset,
    /// or a bare date meaning its midnight, all UTC unless an offset is given).
    pub fn times(&self, name: &str) -> Result<Option<Filter<DateTime<Utc>>>, ApiError> {
        self.filter(name, false, parse_timestamp)
    }

    /// A boolean (`true`/`false`).
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.last(name)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| ApiError::bad_request(name, "is invalid"))
            })
            .transpose()
    }

    /// `limit` (default [`DEFAULT_LIMIT`]) and `offset` (default 0).
    pub fn page(&self) -> Result<Page, ApiError> {
        let number = |name: &str, default: usize| -> Result<usize, ApiError> {
            self.last(name).map_or(Ok(default), |value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request(name, "is invalid"))
            })
        };
        Ok(Page {
            limit: number("limit", DEFAULT_LIMIT)?,
            offset: number("offset", 0)?,
        })
    }
}

/// A path id; PULPO answers 400 for one that is not an integer.
pub fn parse_id(name: &str, raw: &str) -> Result<Id, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(name, "is invalid"))
}

pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_lists_and_ranges() {
        let params = Params::from_pairs(&[
            ("id", "1,2"),
            ("id[]", "3"),
            ("order_num", "to_list:A,B"),
            ("updated_at", "gte:2024-01-02 10:00:00"),
            ("updated_at", "lt:2024-01-03"),
            ("priority", "id:to_list:1"),
        ]);
        let ids = params.ids("id").unwrap().unwrap();
        assert!(ids.matches(&3) && ids.matches(&1) && !ids.matches(&4));
        let nums = params.text("order_num").unwrap().unwrap();
        assert!(nums.matches(&"B".to_string()) && !nums.matches(&"C".to_string()));
        let times = params.times("updated_at").unwrap().unwrap();
        assert!(times.matches(&parse_timestamp("2024-01-02T10:00:00Z").unwrap()));
        assert!(times.matches(&parse_timestamp("2024-01-02T23:59:59.999999+00:00").unwrap()));
        assert!(!times.matches(&parse_timestamp("2024-01-02 09:59:59").unwrap()));
        assert!(!times.matches(&parse_timestamp("2024-01-03").unwrap()));
        assert!(params.ids("missing").unwrap().is_none());
        assert!(params.ids("priority").is_err(), "prefix of another name");
        let bad = Params::from_pairs(&[("id", "gte:x"), ("limit", "-1")]);
        assert!(bad.ids("id").is_err());
        assert!(bad.page().is_err());
        let page = Params::default().page().unwrap();
        assert_eq!(page.apply((0..25).collect()), ((0..10).collect(), 25));
        let between = Params::from_pairs(&[("id", "between:2,4")]);
        let between = between.ids("id").unwrap().unwrap();
        assert!(between.matches(&2) && between.matches(&4) && !between.matches(&5));
        assert_eq!(between.exactly(), None);
        let listed = Params::from_pairs(&[("id", "to_list:3,1")]);
        assert_eq!(
            listed.ids("id").unwrap().unwrap().exactly(),
            Some(&[3, 1][..])
        );
        assert_eq!(
            ids.exactly(),
            Some(&[1, 2, 3][..]),
            "plain values form one list"
        );
        assert_eq!(times.exactly(), None, "two conditions");
    }
}
