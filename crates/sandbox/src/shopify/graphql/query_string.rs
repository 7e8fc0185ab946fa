//! Shopify's search syntax as far as the GraphQL layer needs it itself: the `parsed` tree shown
//! in `extensions.search`, and the simple `field:value` filters of `productVariants`,
//! `inventoryItems` and `locations` (order search lives in `search.rs`).

use serde_json::{Value, json};

/// `:`, `:>`, `:>=`, `:<`, `:<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Equal,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// One search term: `-field:>=value`, or free text (`field` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub field: Option<String>,
    pub comparator: Comparator,
    pub value: String,
    pub quoted: bool,
    pub negated: bool,
}

impl Term {
    /// Whether `actual` (a number) satisfies this term's comparison with its value.
    pub fn compare_number(&self, actual: u64) -> bool {
        let Ok(wanted) = self.value.parse::<u64>() else {
            return false;
        };
        match self.comparator {
            Comparator::Equal => actual == wanted,
            Comparator::Greater => actual > wanted,
            Comparator::GreaterOrEqual => actual >= wanted,
            Comparator::Less => actual < wanted,
            Comparator::LessOrEqual => actual <= wanted,
        }
    }

    fn to_json(&self) -> Value {
        let key = match (self.comparator, self.quoted) {
            (Comparator::Equal, false) => "match_all",
            (Comparator::Equal, true) => "match_phrase",
            (Comparator::Greater, _) => "range_gt",
            (Comparator::GreaterOrEqual, _) => "range_gte",
            (Comparator::Less, _) => "range_lt",
            (Comparator::LessOrEqual, _) => "range_lte",
        };
        let mut term = serde_json::Map::new();
        term.insert(
            "field".into(),
            json!(self.field.as_deref().unwrap_or("default")),
        );
        term.insert(key.into(), json!(self.value));
        if self.negated {
            json!({"not": term})
        } else {
            Value::Object(term)
        }
    }
}

/// Splits `query` into whitespace-separated tokens, keeping quoted parts together.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in query.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                current.push(c);
            }
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                current.push(c);
            }
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn unquote(value: &str) -> (String, bool) {
    for q in ['\'', '"'] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return (value[1..value.len() - 1].to_string(), true);
        }
    }
    (value.to_string(), false)
}

fn term(token: &str, negated: bool) -> Term {
    let (negated, token) = match token.strip_prefix('-') {
        Some(rest) if !rest.is_empty() => (!negated, rest),
        _ => (negated, token),
    };
    let Some((field, rest)) = token
        .split_once(':')
        .filter(|(f, _)| !f.is_empty() && !f.starts_with('\'') && !f.starts_with('"'))
    else {
        let (value, quoted) = unquote(token);
        return Term {
            field: None,
            comparator: Comparator::Equal,
            value,
            quoted,
            negated,
        };
    };
    let (comparator, value) = [
        (">=", Comparator::GreaterOrEqual),
        ("<=", Comparator::LessOrEqual),
        (">", Comparator::Greater),
        ("<", Comparator::Less),
    ]
    .into_iter()
    .find_map(|(prefix, c)| rest.strip_prefix(prefix).map(|v| (c, v)))
    .unwrap_or((Comparator::Equal, rest));
    let (value, quoted) = unquote(value);
    Term {
        field: Some(field.to_string()),
        comparator,
        value,
        quoted,
        negated,
    }
}

/// The terms of `query` joined by OR: each inner list is ANDed.
pub fn groups(query: &str) -> Vec<Vec<Term>> {
    let mut groups = vec![Vec::new()];
    let mut negate_next = false;
    for token in tokens(query) {
        match token.as_str() {
            "OR" => groups.push(Vec::new()),
            "AND" => {}
            "NOT" => negate_next = true,
            _ => {
                if let Some(group) = groups.last_mut() {
                    group.push(term(&token, negate_next));
                }
                negate_next = false;
            }
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// The terms of a query without `OR`.
pub fn terms(query: &str) -> Vec<Term> {
    groups(query).into_iter().flatten().collect()
}

/// The `parsed` tree Shopify shows in `extensions.search`.
pub fn parsed(query: &str) -> Value {
    let mut groups: Vec<Value> = groups(query)
        .into_iter()
        .map(|group| {
            let mut terms: Vec<Value> = group.iter().map(Term::to_json).collect();
            if terms.len() == 1 {
                terms.remove(0)
            } else {
                json!({"and": terms})
            }
        })
        .collect();
    match groups.len() {
        0 => json!({}),
        1 => groups.remove(0),
        _ => json!({"or": groups}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_trees_look_like_shopifys() {
        assert_eq!(
            parsed("email:first@example.test"),
            json!({"field": "email", "match_all": "first@example.test"})
        );
        assert_eq!(
            parsed("updated_at:>='2026-11-01T00:00:00Z' -tag:x staff:\"Kat Owens\""),
            json!({"and": [
                {"field": "updated_at", "range_gte": "2026-11-01T00:00:00Z"},
                {"not": {"field": "tag", "match_all": "x"}},
                {"field": "staff", "match_phrase": "Kat Owens"},
            ]})
        );
        let sku = terms("sku:ABC-1");
        assert_eq!(sku[0].field.as_deref(), Some("sku"));
        assert_eq!(sku[0].value, "ABC-1");
        assert!(terms("id:>=5")[0].compare_number(7));
    }
}
