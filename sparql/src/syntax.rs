//! One line for a query the node cannot parse: the line and column in the text as signed, and
//! what stands there, instead of the parser's list of every character it would have accepted.

use super::dialect::{line_column, offset_of, Translation};

/// Explains the parser's `message` about `translation.text` in terms of `source`, the text the
/// translation was made from: `line L, column C: unexpected `…``, or the parser's own sentence
/// where it gave one (`The SELECT overrides an existing variable using an expression`).
pub fn explain(source: &str, translation: &Translation, message: &str) -> String {
    let Some((line, column, expected)) = located(message) else {
        return message.to_owned();
    };
    let offset = translation.source_offset(offset_of(&translation.text, line, column));
    let offset = next_token(source, offset);
    let (line, column) = line_column(source, offset);
    let reason = sentence(expected).map_or_else(
        || format!("unexpected {}", found(source, offset)),
        str::to_owned,
    );
    format!("line {line}, column {column}: {reason}")
}

/// `error at L:C: expected …` as the parser (rust-peg) writes it.
fn located(message: &str) -> Option<(usize, usize, &str)> {
    let rest = message.strip_prefix("error at ")?;
    let (position, expected) = rest.split_once(": expected ")?;
    let (line, column) = position.split_once(':')?;
    Some((line.parse().ok()?, column.parse().ok()?, expected))
}

/// The parser's own explanation, when it gave one among the tokens it expected: a sentence
/// ("The SELECT overrides …"), not a quoted token, a keyword or a character class.
fn sentence(expected: &str) -> Option<&str> {
    let list = expected.strip_prefix("one of ").unwrap_or(expected);
    list.split(", ").find(|item| {
        let mut chars = item.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.next().is_some_and(char::is_lowercase)
            && item.contains(' ')
    })
}

/// The offset of the first token at or after `offset`: the parser reports a failure before the
/// whitespace and comments it would have skipped.
fn next_token(source: &str, mut offset: usize) -> usize {
    loop {
        let rest = source.get(offset..).unwrap_or_default();
        let trimmed = rest.trim_start();
        offset += rest.len() - trimmed.len();
        if !trimmed.starts_with('#') {
            return offset;
        }
        offset += trimmed.find('\n').unwrap_or(trimmed.len());
    }
}

/// What stands at `offset`: the word there, quoted, or the end of the query.
fn found(source: &str, offset: usize) -> String {
    let rest = source.get(offset..).unwrap_or_default();
    let word: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace())
        .take(30)
        .collect();
    if word.is_empty() {
        "end of query".to_owned()
    } else {
        format!("`{word}`")
    }
}

#[cfg(test)]
mod tests {
    use crate::{parse_read_only, SparqlError};

    fn syntax(text: &str) -> String {
        match parse_read_only(text) {
            Err(SparqlError::Syntax(message)) => message,
            other => panic!("not a syntax error: {other:?}"),
        }
    }

    #[test]
    fn a_syntax_error_is_one_line_with_line_column_and_what_stands_there() {
        let message = syntax("SELECT ?x\nWHERE {\n  ?x ?y .\n  # a comment\n  FILTER ?x }");
        assert_eq!(message, "line 5, column 3: unexpected `FILTER`");
    }

    #[test]
    fn positions_are_those_of_the_signed_text_after_placeholders() {
        // The translated line is 15 characters longer; the column is the signed text's.
        let message = syntax("SELECT ?x WHERE {\n  BIND($(start_periode) AS ?s) ?x ?y");
        assert_eq!(message, "line 2, column 37: unexpected end of query");
    }

    #[test]
    fn the_parsers_own_sentence_is_kept() {
        let message = syntax("SELECT (1 AS ?x) WHERE { ?x ?p ?o }");
        assert!(
            message.ends_with("The SELECT overrides an existing variable using an expression"),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn an_unfinished_query_ends_early() {
        assert_eq!(
            syntax("SELECT ?x WHERE { ?x ?y"),
            "line 1, column 24: unexpected end of query"
        );
    }
}
