//! Shopify's order search syntax (`orders(query:)`) and a search index that lags behind changes.
//!
//! The grammar follows §3.4 of the reference: `field:value` terms joined by spaces (AND), `OR`,
//! negation with `-` or `NOT`, parentheses, comparators `:>`, `:>=`, `:<`, `:<=`, quoted values
//! `'…'` / `"…"`, and a bare word as free text (`default`). Shopify's traps are reproduced:
//! an unquoted value is cut at its next colon and the rest becomes a term of its own (so an
//! unquoted timestamp becomes an hour in the shop's time zone plus a bogus field `00`), dates
//! without an offset are read in the shop's time zone, and unknown fields or values only add a
//! warning while the term matches everything.
//!
//! The index keeps, per order, a small [`SearchDoc`] (only what searches read) of the version it
//! has seen plus newer versions that become visible `lag` after they were written.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use super::model::{FinancialStatus, FulfillmentStatus, Order, SHOP_OFFSET, Shop, parse_gid};

/// A parsed `query:` string.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    query: String,
    /// `None` for an empty query: everything matches.
    expr: Option<Expr>,
    warnings: Vec<SearchWarning>,
}

/// An entry of `extensions.search[].warnings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchWarning {
    pub field: String,
    pub message: String,
    /// `invalid_field` or `invalid_value`.
    pub code: String,
}

#[derive(Debug, Clone)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparator {
    Equal,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparator {
    fn parsed_key(self, quoted: bool) -> &'static str {
        match self {
            Comparator::Equal if quoted => "match_phrase",
            Comparator::Equal => "match_all",
            Comparator::Greater => "range_gt",
            Comparator::GreaterOrEqual => "range_gte",
            Comparator::Less => "range_lt",
            Comparator::LessOrEqual => "range_lte",
        }
    }

    fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            Comparator::Equal => left == right,
            Comparator::Greater => left > right,
            Comparator::GreaterOrEqual => left >= right,
            Comparator::Less => left < right,
            Comparator::LessOrEqual => left <= right,
        }
    }
}

#[derive(Debug, Clone)]
struct Term {
    /// `default` for free text.
    field: String,
    comparator: Comparator,
    value: String,
    quoted: bool,
    predicate: Predicate,
}

/// Which timestamp a time term reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeField {
    CreatedAt,
    UpdatedAt,
    ProcessedAt,
}

/// A point in time as written: an interval `[start, start + length)` (a day for `2024-01-01`,
/// a second for a full timestamp), or `now`.
#[derive(Debug, Clone, Copy)]
enum TimeValue {
    Now,
    Interval {
        start: DateTime<Utc>,
        length: TimeDelta,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StatusFilter {
    Open,
    Closed,
    Cancelled,
    NotClosed,
}

/// Exact or prefix (`value*`) text, lowercased.
#[derive(Debug, Clone)]
struct TextPattern {
    text: String,
    prefix: bool,
}

impl TextPattern {
    fn new(value: &str) -> TextPattern {
        let lower = value.to_lowercase();
        match lower.strip_suffix('*') {
            Some(stem) => TextPattern {
                text: stem.to_string(),
                prefix: true,
            },
            None => TextPattern {
                text: lower,
                prefix: false,
            },
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        let mut lowered = candidate.chars().flat_map(char::to_lowercase);
        let mut wanted = self.text.chars();
        loop {
            match (wanted.next(), lowered.next()) {
                (None, None) => return true,
                (None, Some(_)) => return self.prefix,
                (Some(_), None) => return false,
                (Some(a), Some(b)) if a != b => return false,
                _ => {}
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Predicate {
    /// An unknown field, a bad value or a documented field the sandbox does not model: the
    /// term matches every order.
    Everything,
    Time(TimeField, TimeValue),
    Status(StatusFilter),
    Financial(FinancialStatus),
    Fulfillment(FulfillmentStatus),
    Tag(TextPattern),
    TagNot(TextPattern),
    Name(TextPattern),
    Id(u64),
    Email(TextPattern),
    Sku(TextPattern),
    Test(bool),
    CustomerId(u64),
    LocationId(u64),
    SourceName(TextPattern),
    TotalPrice(Decimal),
    LineItemsQuantity(i64),
    /// Free text, lowercased: contained in the name, the email or the customer's name.
    Default(String),
}

/// Documented order search fields (§3.4) the sandbox accepts without a warning but does not
/// model: their terms match every order.
const UNMODELLED_FIELDS: [&str; 24] = [
    "cart_token",
    "channel",
    "channel_id",
    "chargeback_status",
    "checkout_token",
    "confirmation_number",
    "credit_card_last4",
    "delivery_method",
    "discount_code",
    "fraud_protection_level",
    "gateway",
    "payment_id",
    "payment_provider_id",
    "po_number",
    "reference_location_id",
    "return_status",
    "risk_level",
    "sales_channel",
    "source_identifier",
    "total_weight",
    "metafields",
    "customer_tag",
    "earliest_fulfill_by",
    "fulfillment_order_status",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Or,
    And,
    Not,
    Term {
        negated: bool,
        field: Option<String>,
        comparator: Comparator,
        value: String,
        quoted: bool,
    },
}

/// Splits a query into tokens. Words are separated by whitespace and parentheses except
/// inside quotes. An unquoted `field:value` whose value holds another colon is cut there and
/// the rest is read as the next word, as Shopify does.
fn tokenize(query: &str) -> Vec<Token> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            tokens.push(if c == '(' { Token::Open } else { Token::Close });
            i += 1;
        } else {
            let mut word = String::new();
            let mut quote: Option<char> = None;
            while i < chars.len() {
                let c = chars[i];
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == '\'' || c == '"' => quote = Some(c),
                    None if c.is_whitespace() || c == '(' || c == ')' => break,
                    None => {}
                }
                word.push(c);
                i += 1;
            }
            let mut next = Some(word);
            while let Some(word) = next.take() {
                let (token, rest) = word_token(&word);
                tokens.push(token);
                next = rest;
            }
        }
    }
    tokens
}

/// One word as a token, plus what the colon trap cut off it.
fn word_token(word: &str) -> (Token, Option<String>) {
    match word {
        "OR" => return (Token::Or, None),
        "AND" => return (Token::And, None),
        "NOT" => return (Token::Not, None),
        _ => {}
    }
    let (negated, body) = match word.strip_prefix('-') {
        Some(rest) if !rest.is_empty() => (true, rest),
        _ => (false, word),
    };
    let field_end = body
        .char_indices()
        .take_while(|&(_, c)| c != '\'' && c != '"')
        .find(|&(_, c)| c == ':')
        .map(|(i, _)| i);
    let Some(colon) = field_end else {
        let (value, quoted) = unquote(body);
        return (
            Token::Term {
                negated,
                field: None,
                comparator: Comparator::Equal,
                value,
                quoted,
            },
            None,
        );
    };
    let field = body[..colon].to_string();
    let mut rest = &body[colon + 1..];
    let mut comparator = Comparator::Equal;
    for (prefix, c) in [
        (">=", Comparator::GreaterOrEqual),
        ("<=", Comparator::LessOrEqual),
        (">", Comparator::Greater),
        ("<", Comparator::Less),
    ] {
        if let Some(stripped) = rest.strip_prefix(prefix) {
            comparator = c;
            rest = stripped;
            break;
        }
    }
    let mut remainder = None;
    let (value, quoted) = if rest.starts_with('\'') || rest.starts_with('"') {
        unquote(rest)
    } else if let Some(cut) = rest.find(':') {
        let after = &rest[cut + 1..];
        if !after.is_empty() {
            remainder = Some(after.to_string());
        }
        (rest[..cut].to_string(), false)
    } else {
        (rest.to_string(), false)
    };
    (
        Token::Term {
            negated,
            field: Some(field),
            comparator,
            value,
            quoted,
        },
        remainder,
    )
}

fn unquote(text: &str) -> (String, bool) {
    let mut chars = text.chars();
    match chars.next() {
        Some(q @ ('\'' | '"')) => {
            let inner: String = chars.collect();
            let inner = inner.strip_suffix(q).unwrap_or(&inner).to_string();
            (inner, true)
        }
        _ => (text.to_string(), false),
    }
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
    warnings: Vec<SearchWarning>,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn or(&mut self) -> Option<Expr> {
        let mut alternatives = Vec::new();
        if let Some(first) = self.and() {
            alternatives.push(first);
        }
        while self.peek() == Some(&Token::Or) {
            self.position += 1;
            if let Some(next) = self.and() {
                alternatives.push(next);
            }
        }
        match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Expr::Or(alternatives)),
        }
    }

    fn and(&mut self) -> Option<Expr> {
        let mut terms = Vec::new();
        loop {
            match self.peek() {
                None | Some(Token::Or) | Some(Token::Close) => break,
                Some(Token::And) => self.position += 1,
                Some(_) => {
                    if let Some(expr) = self.unary() {
                        terms.push(expr);
                    }
                }
            }
        }
        match terms.len() {
            0 => None,
            1 => terms.pop(),
            _ => Some(Expr::And(terms)),
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        let token = self.peek()?.clone();
        self.position += 1;
        match token {
            Token::Not => self.unary().map(|e| Expr::Not(Box::new(e))),
            Token::Open => {
                let inner = self.or();
                if self.peek() == Some(&Token::Close) {
                    self.position += 1;
                }
                inner
            }
            Token::Term {
                negated,
                field,
                comparator,
                value,
                quoted,
            } => {
                let term = self.term(field, comparator, value, quoted);
                Some(if negated {
                    Expr::Not(Box::new(Expr::Term(term)))
                } else {
                    Expr::Term(term)
                })
            }
            Token::Close | Token::Or | Token::And => None,
        }
    }

    fn term(
        &mut self,
        field: Option<String>,
        comparator: Comparator,
        value: String,
        quoted: bool,
    ) -> Term {
        let field = field.unwrap_or_else(|| "default".to_string());
        let predicate = self.predicate(&field, &value);
        Term {
            field,
            comparator,
            value,
            quoted,
            predicate,
        }
    }

    fn predicate(&mut self, field: &str, value: &str) -> Predicate {
        let lower = value.to_ascii_lowercase();
        let parsed = match field.to_ascii_lowercase().as_str() {
            "default" => Some(Predicate::Default(value.to_lowercase())),
            "created_at" => parse_time(value).map(|t| Predicate::Time(TimeField::CreatedAt, t)),
            "updated_at" => parse_time(value).map(|t| Predicate::Time(TimeField::UpdatedAt, t)),
            "processed_at" => parse_time(value).map(|t| Predicate::Time(TimeField::ProcessedAt, t)),
            "status" => match lower.as_str() {
                "open" => Some(StatusFilter::Open),
                "closed" => Some(StatusFilter::Closed),
                "cancelled" => Some(StatusFilter::Cancelled),
                "not_closed" => Some(StatusFilter::NotClosed),
                _ => None,
            }
            .map(Predicate::Status),
            "financial_status" => FinancialStatus::from_rest(&lower).map(Predicate::Financial),
            "fulfillment_status" => match lower.as_str() {
                "unshipped" | "unfulfilled" => Some(FulfillmentStatus::Unfulfilled),
                "shipped" | "fulfilled" => Some(FulfillmentStatus::Fulfilled),
                "partial" => Some(FulfillmentStatus::PartiallyFulfilled),
                "scheduled" => Some(FulfillmentStatus::Scheduled),
                "on_hold" => Some(FulfillmentStatus::OnHold),
                "request_declined" => Some(FulfillmentStatus::RequestDeclined),
                _ => None,
            }
            .map(Predicate::Fulfillment),
            "tag" => Some(Predicate::Tag(TextPattern::new(value))),
            "tag_not" => Some(Predicate::TagNot(TextPattern::new(value))),
            "name" => Some(Predicate::Name(TextPattern::new(
                value.strip_prefix('#').unwrap_or(value),
            ))),
            "id" => parse_id(value, "Order").map(Predicate::Id),
            "email" => Some(Predicate::Email(TextPattern::new(value))),
            "sku" => Some(Predicate::Sku(TextPattern::new(value))),
            "test" => match lower.as_str() {
                "true" => Some(Predicate::Test(true)),
                "false" => Some(Predicate::Test(false)),
                _ => None,
            },
            "customer_id" => parse_id(value, "Customer").map(Predicate::CustomerId),
            "location_id" | "fulfillment_location_id" => {
                parse_id(value, "Location").map(Predicate::LocationId)
            }
            "source_name" => Some(Predicate::SourceName(TextPattern::new(value))),
            "current_total_price" => value.parse().ok().map(Predicate::TotalPrice),
            "subtotal_line_items_quantity" => value.parse().ok().map(Predicate::LineItemsQuantity),
            other if UNMODELLED_FIELDS.contains(&other) || other.starts_with("metafields.") => {
                Some(Predicate::Everything)
            }
            _ => {
                self.warnings.push(SearchWarning {
                    field: field.to_string(),
                    message: "Invalid search field for this query.".to_string(),
                    code: "invalid_field".to_string(),
                });
                return Predicate::Everything;
            }
        };
        parsed.unwrap_or_else(|| {
            self.warnings.push(SearchWarning {
                field: field.to_string(),
                message: format!("Input `{value}` is not an accepted value."),
                code: "invalid_value".to_string(),
            });
            Predicate::Everything
        })
    }
}

/// Whether `t` satisfies `comparator value` for a search time `value` (`now`, a timestamp or a
/// date as [`parse_time`] reads it), the way order searches compare `updated_at`; `false`
/// when the value is not a time. For the simple searches of other connections.
pub fn time_term_holds(
    value: &str,
    comparator: crate::shopify::graphql::Comparator,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    use crate::shopify::graphql::Comparator as C;
    let comparator = match comparator {
        C::Equal => Comparator::Equal,
        C::Greater => Comparator::Greater,
        C::GreaterOrEqual => Comparator::GreaterOrEqual,
        C::Less => Comparator::Less,
        C::LessOrEqual => Comparator::LessOrEqual,
    };
    parse_time(value).is_some_and(|value| time_holds(comparator, value, t, now))
}

/// `1234` or `gid://shopify/{kind}/1234`.
fn parse_id(value: &str, kind: &str) -> Option<u64> {
    value.parse().ok().or_else(|| parse_gid(value, kind))
}

/// Reads a search time: `now`, a timestamp with an offset, or a date / date-time without one
/// (in the shop's time zone) down to the year (`2024`), the day (`2024-01-01`) or the hour
/// (`2024-01-01T10`, what the colon trap leaves of an unquoted timestamp).
fn parse_time(value: &str) -> Option<TimeValue> {
    if value.eq_ignore_ascii_case("now") {
        return Some(TimeValue::Now);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(TimeValue::Interval {
            start: at.with_timezone(&Utc),
            length: TimeDelta::seconds(1),
        });
    }
    let local = |naive: NaiveDateTime, length: TimeDelta| {
        SHOP_OFFSET
            .from_local_datetime(&naive)
            .single()
            .map(|at| TimeValue::Interval {
                start: at.with_timezone(&Utc),
                length,
            })
    };
    for (format, length) in [
        ("%Y-%m-%dT%H:%M:%S", TimeDelta::seconds(1)),
        ("%Y-%m-%d %H:%M:%S", TimeDelta::seconds(1)),
        ("%Y-%m-%dT%H:%M", TimeDelta::minutes(1)),
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return local(naive, length);
        }
    }
    if let Some((date, hour)) = value.split_once('T')
        && let (Ok(date), Ok(hour)) = (
            NaiveDate::parse_from_str(date, "%Y-%m-%d"),
            hour.parse::<u32>(),
        )
    {
        return local(
            date.and_time(NaiveTime::from_hms_opt(hour, 0, 0)?),
            TimeDelta::hours(1),
        );
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return local(date.and_time(NaiveTime::MIN), TimeDelta::days(1));
    }
    if value.len() == 4
        && let Ok(year) = value.parse::<i32>()
    {
        let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
        let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
        return local(start.and_time(NaiveTime::MIN), end - start);
    }
    None
}

/// What a search reads of an order. Implemented by [`Order`] and by the index's compact
/// [`SearchDoc`].
pub trait Searchable {
    fn order_id(&self) -> u64;
    fn order_name(&self) -> &str;
    fn order_email(&self) -> Option<&str>;
    fn customer_name(&self) -> Option<String>;
    fn customer_id(&self) -> Option<u64>;
    fn time(&self, field: TimeField) -> DateTime<Utc>;
    fn is_cancelled(&self) -> bool;
    fn is_closed(&self) -> bool;
    fn is_test(&self) -> bool;
    fn financial_status(&self) -> Option<FinancialStatus>;
    fn fulfillment_status(&self) -> FulfillmentStatus;
    fn any_tag(&self, check: &mut dyn FnMut(&str) -> bool) -> bool;
    fn any_sku(&self, check: &mut dyn FnMut(&str) -> bool) -> bool;
    fn any_location(&self, check: &mut dyn FnMut(u64) -> bool) -> bool;
    fn source_name(&self) -> Option<&str>;
    fn total_price(&self) -> Decimal;
    fn line_items_quantity(&self) -> i64;
}

impl Searchable for Order {
    fn order_id(&self) -> u64 {
        self.id
    }
    fn order_name(&self) -> &str {
        &self.name
    }
    fn order_email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    fn customer_name(&self) -> Option<String> {
        self.customer.as_ref().map(|c| c.display_name())
    }
    fn customer_id(&self) -> Option<u64> {
        self.customer.as_ref().map(|c| c.id)
    }
    fn time(&self, field: TimeField) -> DateTime<Utc> {
        match field {
            TimeField::CreatedAt => self.created_at,
            TimeField::UpdatedAt => self.updated_at,
            TimeField::ProcessedAt => self.processed_at,
        }
    }
    fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }
    fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }
    fn is_test(&self) -> bool {
        self.test
    }
    fn financial_status(&self) -> Option<FinancialStatus> {
        self.financial_status
    }
    fn fulfillment_status(&self) -> FulfillmentStatus {
        self.fulfillment_status
    }
    fn any_tag(&self, check: &mut dyn FnMut(&str) -> bool) -> bool {
        self.tags.iter().any(|t| check(t))
    }
    fn any_sku(&self, check: &mut dyn FnMut(&str) -> bool) -> bool {
        self.line_items
            .iter()
            .filter_map(|l| l.sku.as_deref())
            .any(check)
    }
    fn any_location(&self, check: &mut dyn FnMut(u64) -> bool) -> bool {
        self.fulfillment_orders
            .iter()
            .any(|fo| check(fo.location_id))
    }
    fn source_name(&self) -> Option<&str> {
        self.source_name.as_deref()
    }
    fn total_price(&self) -> Decimal {
        self.total()
    }
    fn line_items_quantity(&self) -> i64 {
        self.line_items.iter().map(|l| l.current_quantity).sum()
    }
}

/// The compact copy of an order the search index keeps: the fields searches read, with tags
/// and SKUs joined into one string each, so 100,000 orders stay a few tens of megabytes.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDoc {
    id: u64,
    name: Box<str>,
    email: Option<Box<str>>,
    customer_name: Option<Box<str>>,
    customer_id: Option<u64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    processed_at: DateTime<Utc>,
    cancelled: bool,
    closed: bool,
    test: bool,
    financial_status: Option<FinancialStatus>,
    fulfillment_status: FulfillmentStatus,
    /// Tags joined with `\n`.
    tags: Box<str>,
    /// SKUs joined with `\n`.
    skus: Box<str>,
    locations: Box<[u64]>,
    source_name: Option<Box<str>>,
    total_price: Decimal,
    line_items_quantity: i64,
}

impl SearchDoc {
    pub fn new(order: &Order) -> SearchDoc {
        let join = |items: &mut dyn Iterator<Item = &str>| -> Box<str> {
            items.collect::<Vec<_>>().join("\n").into_boxed_str()
        };
        let mut locations: Vec<u64> = order
            .fulfillment_orders
            .iter()
            .map(|fo| fo.location_id)
            .collect();
        locations.dedup();
        SearchDoc {
            id: order.id,
            name: order.name.as_str().into(),
            email: order.email.as_deref().map(Into::into),
            customer_name: order.customer_name().map(String::into_boxed_str),
            customer_id: order.customer_id(),
            created_at: order.created_at,
            updated_at: order.updated_at,
            processed_at: order.processed_at,
            cancelled: order.cancelled_at.is_some(),
            closed: order.closed_at.is_some(),
            test: order.test,
            financial_status: order.financial_status,
            fulfillment_status: order.fulfillment_status,
            tags: join(&mut order.tags.iter().map(String::as_str)),
            skus: join(&mut order.line_items.iter().filter_map(|l| l.sku.as_deref())),
            locations: locations.into_boxed_slice(),
            source_name: order.source_name.as_deref().map(Into::into),
            total_price: order.total(),
            line_items_quantity: order.line_items_quantity(),
        }
    }
}

fn split_joined(joined: &str) -> impl Iterator<Item = &str> {
    joined.split('\n').filter(|s| !s.is_empty())
}

impl Searchable for SearchDoc {
    fn order_id(&self) -> u64 {
        self.id
    }
    fn order_name(&self) -> &str {
        &self.name
    }
    fn order_email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    fn customer_name(&self) -> Option<String> {
        self.customer_name.as_deref().map(str::to_string)
    }
    fn customer_id(&self) -> Option<u64> {
        self.customer_id
    }
    fn time(&self, field: TimeField) -> DateTime<Utc> {
        match field {
            TimeField::CreatedAt => self.created_at,
            TimeField::UpdatedAt => self.updated_at,
            TimeField::ProcessedAt => self.processed_at,
        }
    }
    fn is_cancelled(&self) -> bool {
        self.cancelled
    }
    fn is_closed(&self) -> bool {
        self.closed
    }
    fn is_test(&self) -> bool {
        self.test
    }
    fn financial_status(&self) -> Option<FinancialStatus> {
        self.financial_status
    }
    fn fulfillment_status(&self) -> FulfillmentStatus {
        self.fulfillment_status
    }
    fn any_tag(&self, check: &mut dyn FnMut(&str) -> bool) -> bool {
        split_joined(&self.tags).any(check)
    }
    fn any_sku(&self, check: &mut dyn FnMut(&str) -> bool) -> bool {
        split_joined(&self.skus).any(check)
    }
    fn any_location(&self, check: &mut dyn FnMut(u64) -> bool) -> bool {
        self.locations.iter().any(|&l| check(l))
    }
    fn source_name(&self) -> Option<&str> {
        self.source_name.as_deref()
    }
    fn total_price(&self) -> Decimal {
        self.total_price
    }
    fn line_items_quantity(&self) -> i64 {
        self.line_items_quantity
    }
}

impl OrderSearch {
    pub fn parse(query: &str) -> OrderSearch {
        let mut parser = Parser {
            tokens: tokenize(query),
            position: 0,
            warnings: Vec::new(),
        };
        let mut alternatives = Vec::new();
        // Stray closing parentheses end a group early; keep reading after them.
        while parser.position < parser.tokens.len() {
            if let Some(expr) = parser.or() {
                alternatives.push(expr);
            }
            if parser.peek() == Some(&Token::Close) {
                parser.position += 1;
            }
        }
        let expr = match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Expr::And(alternatives)),
        };
        OrderSearch {
            query: query.to_string(),
            expr,
            warnings: parser.warnings,
        }
    }

    /// The query as given.
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn warnings(&self) -> &[SearchWarning] {
        &self.warnings
    }

    /// Whether `order` matches now.
    pub fn matches(&self, order: &Order) -> bool {
        self.matches_at(order, Utc::now())
    }

    /// Whether `order` (or an index's copy of it) matches, with `now` standing for `now`.
    pub fn matches_at(&self, order: &dyn Searchable, now: DateTime<Utc>) -> bool {
        self.expr
            .as_ref()
            .is_none_or(|expr| evaluate(expr, order, now))
    }

    /// Shopify's `extensions.search[].parsed` for this query: `{"field", "match_all"}` for one
    /// term, `{"and": [...]}`, `{"or": [...]}`, `{"not": ...}`; timestamps in the shop's offset.
    /// `null` for an empty query.
    pub fn parsed(&self) -> Value {
        self.expr.as_ref().map_or(Value::Null, parsed_json)
    }

    /// The `extensions.search` entry Shopify adds for a connection at `path`, or `None` when
    /// there are no warnings (Shopify adds it only then).
    pub fn extension(&self, path: &[&str]) -> Option<Value> {
        (!self.warnings.is_empty()).then(|| {
            json!({
                "path": path,
                "query": self.query,
                "parsed": self.parsed(),
                "warnings": self.warnings,
            })
        })
    }
}

fn parsed_json(expr: &Expr) -> Value {
    match expr {
        Expr::And(items) => json!({"and": items.iter().map(parsed_json).collect::<Vec<_>>()}),
        Expr::Or(items) => json!({"or": items.iter().map(parsed_json).collect::<Vec<_>>()}),
        Expr::Not(inner) => json!({"not": parsed_json(inner)}),
        Expr::Term(term) => {
            let value = match &term.predicate {
                Predicate::Time(_, TimeValue::Interval { start, .. }) => start
                    .with_timezone(&SHOP_OFFSET)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                _ => term.value.clone(),
            };
            let mut object = serde_json::Map::new();
            object.insert("field".into(), Value::String(term.field.clone()));
            object.insert(
                term.comparator.parsed_key(term.quoted).into(),
                Value::String(value),
            );
            Value::Object(object)
        }
    }
}

fn evaluate(expr: &Expr, order: &dyn Searchable, now: DateTime<Utc>) -> bool {
    match expr {
        Expr::And(items) => items.iter().all(|e| evaluate(e, order, now)),
        Expr::Or(items) => items.iter().any(|e| evaluate(e, order, now)),
        Expr::Not(inner) => match inner.as_ref() {
            // A term that matches everything is dropped, negated or not.
            Expr::Term(Term {
                predicate: Predicate::Everything,
                ..
            }) => true,
            inner => !evaluate(inner, order, now),
        },
        Expr::Term(term) => term_matches(term, order, now),
    }
}

fn time_holds(c: Comparator, value: TimeValue, t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    match value {
        TimeValue::Now => c.holds(t, now),
        // A value names an interval (a second, an hour, a day, a year): `>` means after all
        // of it, `<=` up to its end, `:` inside it.
        TimeValue::Interval { start, length } => {
            let end = start + length;
            match c {
                Comparator::Equal => start <= t && t < end,
                Comparator::Greater => t >= end,
                Comparator::GreaterOrEqual => t >= start,
                Comparator::Less => t < start,
                Comparator::LessOrEqual => t < end,
            }
        }
    }
}

fn term_matches(term: &Term, order: &dyn Searchable, now: DateTime<Utc>) -> bool {
    let c = term.comparator;
    match &term.predicate {
        Predicate::Everything => true,
        Predicate::Time(field, value) => time_holds(c, *value, order.time(*field), now),
        Predicate::Status(status) => match status {
            StatusFilter::Open => !order.is_closed() && !order.is_cancelled(),
            StatusFilter::Closed => order.is_closed(),
            StatusFilter::Cancelled => order.is_cancelled(),
            StatusFilter::NotClosed => !order.is_closed(),
        },
        Predicate::Financial(status) => order.financial_status() == Some(*status),
        Predicate::Fulfillment(status) => order.fulfillment_status() == *status,
        Predicate::Tag(pattern) => order.any_tag(&mut |t| pattern.matches(t)),
        Predicate::TagNot(pattern) => !order.any_tag(&mut |t| pattern.matches(t)),
        Predicate::Name(pattern) => {
            let name = order.order_name();
            pattern.matches(name.strip_prefix('#').unwrap_or(name))
        }
        Predicate::Id(id) => c.holds(order.order_id(), *id),
        Predicate::Email(pattern) => order.order_email().is_some_and(|e| pattern.matches(e)),
        Predicate::Sku(pattern) => order.any_sku(&mut |s| pattern.matches(s)),
        Predicate::Test(test) => order.is_test() == *test,
        Predicate::CustomerId(id) => order.customer_id() == Some(*id),
        Predicate::LocationId(id) => order.any_location(&mut |l| l == *id),
        Predicate::SourceName(pattern) => order.source_name().is_some_and(|s| pattern.matches(s)),
        Predicate::TotalPrice(price) => c.holds(order.total_price(), *price),
        Predicate::LineItemsQuantity(quantity) => c.holds(order.line_items_quantity(), *quantity),
        Predicate::Default(text) => {
            let contains = |hay: &str| hay.to_lowercase().contains(text.as_str());
            contains(order.order_name())
                || order.order_email().is_some_and(contains)
                || order.customer_name().is_some_and(|n| contains(&n))
        }
    }
}

/// One order as the index knows it: the version it has seen and newer versions that become
/// visible at their instant, oldest first.
#[derive(Debug, Clone, Default)]
struct IndexEntry {
    seen: Option<SearchDoc>,
    pending: Vec<(DateTime<Utc>, SearchDoc)>,
}

impl IndexEntry {
    /// The version a search at `now` sees: the newest written version already visible.
    fn visible(&self, now: DateTime<Utc>) -> Option<&SearchDoc> {
        self.pending
            .iter()
            .rev()
            .find(|(at, _)| *at <= now)
            .map(|(_, doc)| doc)
            .or(self.seen.as_ref())
    }

    /// Folds versions visible at `now` into `seen`, so `pending` stays short.
    fn settle(&mut self, now: DateTime<Utc>) {
        if let Some(last) = self.pending.iter().rposition(|(at, _)| *at <= now)
            && let Some((_, doc)) = self.pending.drain(..=last).next_back()
        {
            self.seen = Some(doc);
        }
    }
}

/// What the search index knows of each order: the version it indexed and when a newer version
/// becomes visible.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    entries: HashMap<u64, IndexEntry>,
    lag: Duration,
}

impl SearchIndex {
    /// An empty index whose changes show up `lag` after they are written.
    pub fn with_lag(lag: Duration) -> SearchIndex {
        SearchIndex {
            entries: HashMap::new(),
            lag,
        }
    }

    /// The lag the shop applies to changes it records from now on.
    pub fn lag(&self) -> Duration {
        self.lag
    }

    pub fn set_lag(&mut self, lag: Duration) {
        self.lag = lag;
    }

    /// Records that `order` was written at `now`; searches see it after `lag`.
    pub fn record(&mut self, order: &Order, now: DateTime<Utc>, lag: Duration) {
        let entry = self.entries.entry(order.id).or_default();
        entry.settle(now);
        let doc = SearchDoc::new(order);
        let visible_at = TimeDelta::from_std(lag)
            .ok()
            .and_then(|lag| now.checked_add_signed(lag))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if visible_at <= now {
            entry.pending.clear();
            entry.seen = Some(doc);
        } else {
            entry.pending.push((visible_at, doc));
        }
    }

    /// Ids of the orders that `search` finds at `now`, as the lagging index sees them, in id
    /// order. An order the index never recorded is searched as it is now.
    pub fn matching_order_ids(
        &self,
        shop: &Shop,
        search: &OrderSearch,
        now: DateTime<Utc>,
    ) -> Vec<u64> {
        shop.orders
            .values()
            .filter(|order| match self.entries.get(&order.id) {
                Some(entry) => entry
                    .visible(now)
                    .is_some_and(|doc| search.matches_at(doc, now)),
                None => search.matches_at(*order, now),
            })
            .map(|order| order.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::generator::generate_shop_at;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::seconds(seconds)
    }

    #[test]
    fn index_shows_a_change_only_after_the_lag() {
        let mut shop = generate_shop_at(3, 4, at(0));
        let mut index = SearchIndex::default();
        for order in shop.orders.values() {
            index.record(order, at(0), Duration::ZERO);
        }
        let lag = Duration::from_secs(60);
        let id = *shop.orders.keys().next().unwrap();
        let order = shop.orders.get_mut(&id).unwrap();
        order.tags.insert("fresh".into());
        order.updated_at = at(10);
        index.record(&shop.orders[&id], at(10), lag);

        let fresh = OrderSearch::parse("tag:fresh");
        let stale = OrderSearch::parse("tag_not:fresh updated_at:<'2026-11-20T10:00:05Z'");
        assert!(index.matching_order_ids(&shop, &fresh, at(10)).is_empty());
        assert!(index.matching_order_ids(&shop, &fresh, at(69)).is_empty());
        assert!(
            index
                .matching_order_ids(&shop, &stale, at(69))
                .contains(&id)
        );
        assert_eq!(index.matching_order_ids(&shop, &fresh, at(70)), vec![id]);
        assert!(
            !index
                .matching_order_ids(&shop, &stale, at(70))
                .contains(&id)
        );
        // The live order matches at once: only the index lags.
        assert!(fresh.matches_at(&shop.orders[&id], at(10)));
    }

    #[test]
    fn index_finds_a_new_order_only_after_the_lag_and_versions_in_order() {
        let mut shop = generate_shop_at(3, 2, at(0));
        let mut index = SearchIndex::with_lag(Duration::from_secs(30));
        for order in shop.orders.values() {
            index.record(order, at(0), Duration::ZERO);
        }
        let mut new = shop.orders.values().next().unwrap().clone();
        new.id = 42;
        new.tags = ["a".to_string()].into();
        shop.orders.insert(42, new.clone());
        index.record(&new, at(100), index.lag());
        let everything = OrderSearch::parse("");
        assert!(
            !index
                .matching_order_ids(&shop, &everything, at(129))
                .contains(&42)
        );
        assert!(
            index
                .matching_order_ids(&shop, &everything, at(130))
                .contains(&42)
        );

        // Two changes in flight: each becomes visible at its own instant.
        new.tags = ["b".to_string()].into();
        index.record(&new, at(200), Duration::from_secs(30));
        new.tags = ["c".to_string()].into();
        index.record(&new, at(210), Duration::from_secs(30));
        let tag = |t: &str| OrderSearch::parse(&format!("tag:{t}"));
        assert_eq!(
            index.matching_order_ids(&shop, &tag("a"), at(229)),
            vec![42]
        );
        assert_eq!(
            index.matching_order_ids(&shop, &tag("b"), at(230)),
            vec![42]
        );
        assert!(
            index
                .matching_order_ids(&shop, &tag("b"), at(240))
                .is_empty()
        );
        assert_eq!(
            index.matching_order_ids(&shop, &tag("c"), at(240)),
            vec![42]
        );
        // A change written without lag wins at once over the ones still pending.
        new.tags = ["d".to_string()].into();
        index.record(&new, at(300), Duration::from_secs(30));
        new.tags = ["e".to_string()].into();
        index.record(&new, at(301), Duration::ZERO);
        assert_eq!(
            index.matching_order_ids(&shop, &tag("e"), at(301)),
            vec![42]
        );
        assert!(
            index
                .matching_order_ids(&shop, &tag("d"), at(400))
                .is_empty()
        );
    }

    #[test]
    fn parsed_mirrors_shopify_for_the_colon_trap() {
        let search = OrderSearch::parse("updated_at:<2000-01-01T00:00:00Z sku:'INV-1'");
        assert_eq!(
            search.parsed(),
            json!({"and": [
                {"field": "updated_at", "range_lt": "2000-01-01T00:00:00+01:00"},
                {"field": "00", "match_all": "00Z"},
                {"field": "sku", "match_phrase": "INV-1"},
            ]})
        );
        assert_eq!(
            search.warnings(),
            &[SearchWarning {
                field: "00".into(),
                message: "Invalid search field for this query.".into(),
                code: "invalid_field".into(),
            }]
        );
        let extension = search.extension(&["orders"]).unwrap();
        assert_eq!(extension["path"], json!(["orders"]));
        assert_eq!(extension["warnings"][0]["code"], "invalid_field");
        assert!(
            OrderSearch::parse("status:open")
                .extension(&["orders"])
                .is_none()
        );
        assert_eq!(
            OrderSearch::parse("status:open").parsed(),
            json!({"field": "status", "match_all": "open"})
        );
        assert_eq!(
            OrderSearch::parse("-tag:a OR NOT (tag:b tag:c)").parsed(),
            json!({"or": [
                {"not": {"field": "tag", "match_all": "a"}},
                {"not": {"and": [
                    {"field": "tag", "match_all": "b"},
                    {"field": "tag", "match_all": "c"},
                ]}},
            ]})
        );
        let bad = OrderSearch::parse("financial_status:bezahlt");
        assert_eq!(bad.warnings()[0].code, "invalid_value");
        assert_eq!(
            bad.warnings()[0].message,
            "Input `bezahlt` is not an accepted value."
        );
    }

    fn term_fields(query: &str) -> Vec<(Option<String>, String)> {
        tokenize(query)
            .into_iter()
            .filter_map(|t| match t {
                Token::Term { field, value, .. } => Some((field, value)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unquoted_colons_split_the_term() {
        assert_eq!(
            term_fields("updated_at:<2000-01-01T00:00:00Z sku:'A:B'"),
            vec![
                (Some("updated_at".into()), "2000-01-01T00".into()),
                (Some("00".into()), "00Z".into()),
                (Some("sku".into()), "A:B".into()),
            ]
        );
        assert_eq!(
            term_fields("title:\"a b\" -x OR (y)"),
            vec![
                (Some("title".into()), "a b".into()),
                (None, "x".into()),
                (None, "y".into()),
            ]
        );
    }

    #[test]
    fn times_are_read_in_the_shop_offset() {
        let Some(TimeValue::Interval { start, length }) = parse_time("2024-01-01") else {
            panic!("a date parses");
        };
        assert_eq!(start.to_rfc3339(), "2023-12-31T23:00:00+00:00");
        assert_eq!(length, TimeDelta::days(1));
        let Some(TimeValue::Interval { start, length }) = parse_time("2024-01-01T10") else {
            panic!("an hour parses");
        };
        assert_eq!(start.to_rfc3339(), "2024-01-01T09:00:00+00:00");
        assert_eq!(length, TimeDelta::hours(1));
        assert!(matches!(
            parse_time("2024"),
            Some(TimeValue::Interval { .. })
        ));
        assert!(parse_time("yesterday-ish").is_none());
    }
}
