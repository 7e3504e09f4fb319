//! Consumer-supplied text made safe to print for a human: control characters (line breaks,
//! carriage returns, escape sequences, C1 controls) and the invisible characters that reorder
//! text (bidirectional overrides and isolates) are shown escaped, `\n` or `\u{202e}`, so a
//! consumer's string can neither forge lines of output nor drive the terminal.

use std::borrow::Cow;

/// Whether `c` would change what a human reads beyond its own glyph.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unprintable character escaped; borrowed when there is none.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unprintable) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unprintable(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_reordering_characters_are_escaped() {
        assert_eq!(
            printable(
                "did:web:a\n     7  2026-01-01T00:00:00+00:00  executed\r\u{1b}[2J\u{202e}x\u{85}"
            ),
            "did:web:a\\n     7  2026-01-01T00:00:00+00:00  executed\\r\\u{1b}[2J\\u{202e}x\\u{85}"
        );
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let text = "zorgkantoor \"Één\" — did:web:x.example";
        assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
    }
}
