//! The KIK-V dialect of SPARQL: what the official queries of the Afsprakenset use that SPARQL 1.1's
//! grammar, and so Oxigraph's parser, does not accept, translated in memory into SPARQL 1.1 with
//! the same meaning before the text is parsed. The signed text itself is never changed: the
//! allow-list compares it as signed, and this translation runs the same way on the registered
//! text and on the presented one.
//!
//! Two features, both accepted by the engines the Afsprakenset is written for (GraphDB, Jena):
//!
//! * **`$(name)` placeholders**, the template the KIK-V publications use for parameters
//!   (`BIND($(start_periode) AS ?start_periode)`). Each becomes the reserved variable
//!   `?kikv_placeholder_name`, which the node binds to the validated parameter `name` by
//!   substitution in the parsed algebra, as it binds `?name` parameters: the value is an RDF term
//!   of the declared type and never touches the text. A placeholder in a comment or a string is
//!   left alone, as a parser would.
//! * **A SELECT expression that reads an alias defined earlier in the same SELECT**
//!   (`(SUM(?fte) AS ?Teller) (?Teller AS ?Indicator_FTE36)`), in the main query and in
//!   sub-selects. SPARQL 1.1's algebra (§18.2.4.4) extends the solution with the SELECT
//!   expressions one after the other, so the later one sees the earlier alias; Oxigraph's parser
//!   refuses it in an aggregated SELECT because it checks every expression against the grouped
//!   variables only. The reference is replaced by the aliased expression itself, in parentheses:
//!   the same value (an aggregate computed twice is the same aggregate), and plain SPARQL 1.1.
//!
//! Errors are reported at the line and column of the *signed* text: every edit is remembered so
//! that a position in the translated text maps back.

use std::collections::{BTreeSet, HashMap};

/// The prefix of the variables that stand for `$(name)` placeholders. A query that names such a
/// variable itself is refused, so a placeholder cannot be imitated.
pub const PLACEHOLDER_PREFIX: &str = "kikv_placeholder_";

/// Why a text cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialectError {
    /// A `$(…)` whose content is not a parameter name.
    #[error("line {line}, column {column}: `$({name})` is not a placeholder: a parameter name has letters, digits and '_' only")]
    BadPlaceholder {
        /// 1-based line in the signed text.
        line: usize,
        /// 1-based column (characters) in the signed text.
        column: usize,
        /// What stood between the parentheses.
        name: String,
    },
    /// The text names a variable with the reserved prefix.
    #[error("line {line}, column {column}: variable names starting with `{PLACEHOLDER_PREFIX}` are reserved for `$(name)` placeholders")]
    ReservedVariable {
        /// 1-based line in the signed text.
        line: usize,
        /// 1-based column (characters) in the signed text.
        column: usize,
    },
}

/// A text translated from the KIK-V dialect into SPARQL 1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The SPARQL 1.1 text to parse.
    pub text: String,
    /// The names of the `$(name)` placeholders the text uses.
    pub placeholders: BTreeSet<String>,
    /// The edits of each pass, first pass first, to map positions back to the signed text.
    passes: Vec<Vec<Edit>>,
}

/// One replacement: `input[start..end]` became `length` bytes of output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
    length: usize,
}

/// Translates `source` (see the module documentation).
pub fn translate(source: &str) -> Result<Translation, DialectError> {
    let tokens = tokenize(source);
    for token in &tokens {
        if let Kind::Variable(name) = &token.kind {
            if name.starts_with(PLACEHOLDER_PREFIX) {
                let (line, column) = line_column(source, token.start);
                return Err(DialectError::ReservedVariable { line, column });
            }
        }
    }
    let (filled, placeholder_edits, placeholders) = fill_placeholders(source, &tokens)?;
    let (text, alias_edits) = inline_aliases(&filled);
    Ok(Translation {
        text,
        placeholders,
        passes: vec![placeholder_edits, alias_edits],
    })
}

impl Translation {
    /// The variable a parameter named `name` binds: the placeholder's when the text uses
    /// `$(name)`, otherwise `?name` itself.
    pub fn parameter_variable(&self, name: &str) -> String {
        if self.placeholders.contains(name) {
            format!("{PLACEHOLDER_PREFIX}{name}")
        } else {
            name.to_owned()
        }
    }

    /// The byte offset in the signed text of byte `offset` of the translated text (the start of
    /// the edit when it falls inside replaced text).
    pub fn source_offset(&self, offset: usize) -> usize {
        self.passes
            .iter()
            .rev()
            .fold(offset, |offset, edits| back(edits, offset))
    }
}

/// Maps an output offset of one pass back to its input.
fn back(edits: &[Edit], offset: usize) -> usize {
    let mut shift: isize = 0;
    for edit in edits {
        let out_start = (edit.start as isize + shift) as usize;
        if offset < out_start {
            break;
        }
        if offset < out_start + edit.length {
            return edit.start;
        }
        shift += edit.length as isize - (edit.end - edit.start) as isize;
    }
    (offset as isize - shift) as usize
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The byte offset of the 1-based `line` and `column` (in characters) of `text`.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, content) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            return offset
                + content
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(content.len(), |(i, _)| i);
        }
        offset += content.len();
    }
    text.len()
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Replaces each `$(name)` outside comments and strings by `?kikv_placeholder_name`.
fn fill_placeholders(
    source: &str,
    tokens: &[Token],
) -> Result<(String, Vec<Edit>, BTreeSet<String>), DialectError> {
    let mut replacements = Vec::new();
    let mut placeholders = BTreeSet::new();
    for token in tokens {
        if let Kind::Placeholder(name) = &token.kind {
            if !is_parameter_name(name) {
                let (line, column) = line_column(source, token.start);
                return Err(DialectError::BadPlaceholder {
                    line,
                    column,
                    name: name.clone(),
                });
            }
            placeholders.insert(name.clone());
            replacements.push((
                token.start,
                token.end,
                format!("?{PLACEHOLDER_PREFIX}{name}"),
            ));
        }
    }
    let (text, edits) = apply(source, replacements);
    Ok((text, edits, placeholders))
}

fn is_parameter_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Applies non-overlapping replacements given in text order.
fn apply(input: &str, replacements: Vec<(usize, usize, String)>) -> (String, Vec<Edit>) {
    let mut text = String::with_capacity(input.len());
    let mut edits = Vec::new();
    let mut at = 0;
    for (start, end, replacement) in replacements {
        text.push_str(&input[at..start]);
        text.push_str(&replacement);
        edits.push(Edit {
            start,
            end,
            length: replacement.len(),
        });
        at = end;
    }
    text.push_str(&input[at..]);
    (text, edits)
}

/// One SELECT expression `( expression AS ?alias )`.
struct Selected {
    /// Byte range of the expression.
    start: usize,
    end: usize,
    alias: String,
    /// Indexes (into the token list) of the variables the expression names.
    variables: Vec<usize>,
}

/// Replaces, in every SELECT clause, each variable that names an alias defined earlier in the
/// same clause by that alias's expression (itself already expanded), in parentheses.
fn inline_aliases(text: &str) -> (String, Vec<Edit>) {
    let tokens = tokenize(text);
    let mut replacements = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if !token.is_word("SELECT") {
            continue;
        }
        let mut expanded: HashMap<String, String> = HashMap::new();
        for selected in select_clause(&tokens, index + 1) {
            let mut pieces = Vec::new();
            for &v in &selected.variables {
                if let Kind::Variable(name) = &tokens[v].kind {
                    if let Some(expression) = expanded.get(name.as_str()) {
                        pieces.push((tokens[v].start, tokens[v].end, format!("({expression})")));
                    }
                }
            }
            let mut expression = String::new();
            let mut at = selected.start;
            for (start, end, replacement) in &pieces {
                expression.push_str(&text[at..*start]);
                expression.push_str(replacement);
                at = *end;
            }
            expression.push_str(&text[at..selected.end]);
            replacements.extend(pieces);
            expanded.insert(selected.alias, expression.trim().to_owned());
        }
    }
    replacements.sort_by_key(|r| r.0);
    apply(text, replacements)
}

/// The `( expression AS ?alias )` items of the SELECT clause whose first item is token `at`.
fn select_clause(tokens: &[Token], mut at: usize) -> Vec<Selected> {
    let mut selected = Vec::new();
    while tokens
        .get(at)
        .is_some_and(|t| t.is_word("DISTINCT") || t.is_word("REDUCED"))
    {
        at += 1;
    }
    while let Some(token) = tokens.get(at) {
        match token.kind {
            Kind::Variable(_) => at += 1,
            Kind::Open => {
                let Some(close) = matching_close(tokens, at) else {
                    break;
                };
                // `( expression AS ?alias )`: AS and the alias are the last two tokens inside.
                if close >= at + 3 && tokens[close - 2].is_word("AS") {
                    if let Kind::Variable(alias) = &tokens[close - 1].kind {
                        let inside = at + 1..close - 2;
                        selected.push(Selected {
                            start: tokens[at + 1].start,
                            end: tokens[close - 3].end,
                            alias: alias.clone(),
                            variables: inside
                                .filter(|&i| matches!(tokens[i].kind, Kind::Variable(_)))
                                .collect(),
                        });
                    }
                }
                at = close + 1;
            }
            _ => break,
        }
    }
    selected
}

fn matching_close(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        match token.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// What the translation needs to know of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `?name` or `$name`, with the name.
    Variable(String),
    /// `$(…)`, with what stands between the parentheses.
    Placeholder(String),
    /// A keyword, prefixed name, number or other run of name characters.
    Word,
    Open,
    Close,
    /// An IRI, a string, punctuation.
    Other,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    kind: Kind,
    start: usize,
    end: usize,
    text: &'a str,
}

impl Token<'_> {
    fn is_word(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(keyword)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\u{B7}'
}

/// Splits a SPARQL text into the tokens the translation looks at; comments and whitespace are
/// dropped, strings and IRIs are single tokens so nothing inside them is taken for syntax.
fn tokenize(text: &str) -> Vec<Token<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let offset = |i: usize| chars.get(i).map_or(text.len(), |&(o, _)| o);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let start = i;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i].1 != '\n' {
                    i += 1;
                }
                continue;
            }
            '"' | '\'' => {
                i = string_end(&chars, i);
                Kind::Other
            }
            '<' => {
                i = iri_end(&chars, i).unwrap_or(i + 1);
                Kind::Other
            }
            '$' if chars.get(i + 1).is_some_and(|&(_, c)| c == '(') => {
                let mut j = i + 2;
                while j < chars.len() && chars[j].1 != ')' && chars[j].1 != '\n' {
                    j += 1;
                }
                if chars.get(j).is_some_and(|&(_, c)| c == ')') {
                    i = j + 1;
                    Kind::Placeholder(text[offset(start + 2)..offset(j)].to_owned())
                } else {
                    i += 1;
                    Kind::Other
                }
            }
            '?' | '$' => {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j].1) {
                    j += 1;
                }
                if j > i + 1 {
                    i = j;
                    Kind::Variable(text[offset(start + 1)..offset(j)].to_owned())
                } else {
                    i += 1;
                    Kind::Other
                }
            }
            '(' => {
                i += 1;
                Kind::Open
            }
            ')' => {
                i += 1;
                Kind::Close
            }
            c if is_name_char(c) || c == ':' => {
                while i < chars.len()
                    && (is_name_char(chars[i].1) || matches!(chars[i].1, ':' | '-' | '.'))
                {
                    i += 1;
                }
                // A name does not end with '.': that is the triple's full stop.
                while i > start + 1 && chars[i - 1].1 == '.' {
                    i -= 1;
                }
                Kind::Word
            }
            _ => {
                i += 1;
                Kind::Other
            }
        };
        tokens.push(Token {
            kind,
            start: offset(start),
            end: offset(i),
            text: &text[offset(start)..offset(i)],
        });
    }
    tokens
}

/// The index after the string literal that starts at `i` (short or long, either quote).
fn string_end(chars: &[(usize, char)], i: usize) -> usize {
    let quote = chars[i].1;
    let long = chars.get(i + 1).is_some_and(|c| c.1 == quote)
        && chars.get(i + 2).is_some_and(|c| c.1 == quote);
    let mut j = if long { i + 3 } else { i + 1 };
    while j < chars.len() {
        match chars[j].1 {
            '\\' => j += 2,
            c if c == quote => {
                if !long {
                    return j + 1;
                }
                if chars.get(j + 1).is_some_and(|c| c.1 == quote)
                    && chars.get(j + 2).is_some_and(|c| c.1 == quote)
                {
                    return j + 3;
                }
                j += 1;
            }
            '\n' if !long => return j,
            _ => j += 1,
        }
    }
    chars.len()
}

/// The index after the IRI reference that starts at `i`, if one does (otherwise `<` is the
/// less-than operator).
fn iri_end(chars: &[(usize, char)], i: usize) -> Option<usize> {
    for (j, &(_, c)) in chars.iter().enumerate().skip(i + 1) {
        match c {
            '>' => return Some(j + 1),
            '<' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' => return None,
            c if c <= ' ' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_reserved_variables_outside_comments_and_strings() {
        let source = "SELECT ?s WHERE {\n  # BIND($(peildatum) AS ?p)\n  BIND ($(start_periode) AS ?start_periode)\n  FILTER(?x != \"$(eind)\")\n}";
        let t = translate(source).unwrap();
        assert_eq!(t.placeholders, BTreeSet::from(["start_periode".to_owned()]));
        assert!(t
            .text
            .contains("BIND (?kikv_placeholder_start_periode AS ?start_periode)"));
        assert!(t.text.contains("# BIND($(peildatum) AS ?p)"));
        assert!(t.text.contains("\"$(eind)\""));
        assert_eq!(
            t.parameter_variable("start_periode"),
            "kikv_placeholder_start_periode"
        );
        assert_eq!(t.parameter_variable("jaar"), "jaar");
    }

    #[test]
    fn a_later_select_expression_gets_the_earlier_alias_expression() {
        let source = "SELECT (SUM(?fte) AS ?Teller) (\"n\" AS ?Noemer) (?Teller AS ?I) (?I / ?Noemer AS ?R) WHERE { ?a ?b ?fte }";
        let t = translate(source).unwrap();
        assert!(t.text.contains("((SUM(?fte)) AS ?I)"), "{}", t.text);
        assert!(
            t.text.contains("(((SUM(?fte))) / (\"n\") AS ?R)"),
            "{}",
            t.text
        );
    }

    #[test]
    fn aliases_are_per_select_clause() {
        let source =
            "SELECT ?t (?t AS ?u) WHERE { { SELECT (COUNT(*) AS ?t) WHERE { ?a ?b ?c } } }";
        assert_eq!(translate(source).unwrap().text, source);
    }

    #[test]
    fn reserved_names_and_bad_placeholders_are_refused_where_they_stand() {
        assert_eq!(
            translate("SELECT ?x WHERE {\n  BIND(1 AS ?kikv_placeholder_x) }"),
            Err(DialectError::ReservedVariable {
                line: 2,
                column: 13
            })
        );
        assert_eq!(
            translate("SELECT ?x WHERE { BIND($(a b) AS ?x) }"),
            Err(DialectError::BadPlaceholder {
                line: 1,
                column: 24,
                name: "a b".into()
            })
        );
    }

    #[test]
    fn positions_map_back_through_both_passes() {
        let source = "SELECT (SUM(?v) AS ?t) (?t AS ?u)\nWHERE { BIND($(x) AS ?v) ?a ?b ?v . ! }";
        let t = translate(source).unwrap();
        let bang = t.text.find('!').unwrap();
        assert_eq!(t.source_offset(bang), source.find('!').unwrap());
        let placeholder = t.text.find("?kikv_placeholder_x").unwrap();
        assert_eq!(
            t.source_offset(placeholder + 3),
            source.find("$(x)").unwrap()
        );
    }

    #[test]
    fn iris_and_less_than_are_told_apart() {
        let tokens = tokenize("FILTER(?a<?b && ?c < 3) <http://x/#y> ?z");
        let variables: Vec<_> = tokens
            .iter()
            .filter_map(|t| match &t.kind {
                Kind::Variable(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(variables, ["a", "b", "c", "z"]);
    }
}
