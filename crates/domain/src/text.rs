//! Text from outside (Shopify order names, PULPO messages, login and configuration names) made
//! safe to print where a terminal or a log reader would act on control characters: a newline
//! forges a log line, ANSI and OSC escapes clear the screen or retitle the terminal, bidi
//! overrides make text read other than it is.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or a line-based log raw.
fn unsafe_to_print(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character (newlines and tabs included) and bidi override
/// written as an escape (`\n`, `\t`, `\r`, `\u{1b}`), everything else as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_to_print) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if unsafe_to_print(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_and_controls_are_escaped() {
        assert!(matches!(printable("#1001 Café ✓"), Cow::Borrowed(_)));
        assert_eq!(
            printable("x\n2026-12-04 INFO Logged in. user=admin"),
            "x\\n2026-12-04 INFO Logged in. user=admin"
        );
        assert_eq!(
            printable("#1\u{1b}]0;owned\u{7}\u{1b}[2J"),
            "#1\\u{1b}]0;owned\\u{7}\\u{1b}[2J"
        );
        assert_eq!(
            printable("a\u{202e}b\u{9b}c\td\r"),
            "a\\u{202e}b\\u{9b}c\\td\\r"
        );
    }
}
