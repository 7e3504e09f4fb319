//! A canonical text of a parsed query, so that two texts that differ only in whitespace,
//! comments, prefixes and the names the parser invents compare equal.
//!
//! The SPARQL parser (spargebra) invents a random variable for each aggregate
//! (`COUNT(…) AS ?n` becomes `?n := ?<random>`) and a random blank node for each `[ … ]` and
//! path step. Two parses of the same text therefore give *different* algebra, and comparing
//! algebra directly never matches a query with an aggregate (every official KIK-V indicator has
//! one). The canonical text is the algebra written out as SPARQL with those invented names
//! replaced by numbered ones in order of appearance: blank node labels always (renaming them
//! keeps the query's meaning), variables only when the source text never names them.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use regex::Regex;

use crate::ReadOnlyQuery;

fn variable_token() -> &'static Regex {
    static TOKEN: OnceLock<Regex> = OnceLock::new();
    TOKEN.get_or_init(|| {
        Regex::new(r"[?$]([\p{L}\p{N}_\u{B7}\u{300}-\u{36F}\u{203F}-\u{2040}]+)")
            .unwrap_or_else(|_| never())
    })
}

fn blank_token() -> &'static Regex {
    static TOKEN: OnceLock<Regex> = OnceLock::new();
    TOKEN.get_or_init(|| Regex::new(r"_:([\p{L}\p{N}_\-.\u{B7}]+)").unwrap_or_else(|_| never()))
}

/// The regular expressions above are constants the regex crate accepts.
#[allow(clippy::panic)]
fn never() -> Regex {
    panic!("constant regular expression")
}

/// The canonical text of `query`, parsed from `source`.
pub fn canonical_text(source: &str, query: &ReadOnlyQuery) -> String {
    let named: BTreeSet<&str> = variable_token()
        .captures_iter(source)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    let written = query.algebra().to_string();
    let mut invented: HashMap<String, usize> = HashMap::new();
    let renamed = variable_token().replace_all(&written, |c: &regex::Captures<'_>| {
        let name = c.get(1).map_or("", |m| m.as_str());
        if named.contains(name) {
            c[0].to_owned()
        } else {
            let next = invented.len();
            let n = *invented.entry(name.to_owned()).or_insert(next);
            format!("?_v{n}")
        }
    });
    let mut blanks: HashMap<String, usize> = HashMap::new();
    blank_token()
        .replace_all(&renamed, |c: &regex::Captures<'_>| {
            let next = blanks.len();
            let n = *blanks.entry(c[1].to_owned()).or_insert(next);
            format!("_:b{n}")
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_read_only;

    fn canonical(text: &str) -> String {
        canonical_text(text, &parse_read_only(text).unwrap())
    }

    const AGGREGATE: &str = "PREFIX x: <urn:x#>\nSELECT ?v (COUNT(DISTINCT ?s) AS ?n)\nWHERE { ?s x:p [ x:q ?v ] ; x:r/x:t* ?o . FILTER(?o > 1) } GROUP BY ?v";

    #[test]
    fn two_parses_of_an_aggregate_query_agree() {
        // The parser's own algebra differs between parses (random names)...
        let (a, b) = (
            parse_read_only(AGGREGATE).unwrap(),
            parse_read_only(AGGREGATE).unwrap(),
        );
        assert_ne!(a.algebra(), b.algebra());
        // ...the canonical text does not.
        assert_eq!(canonical(AGGREGATE), canonical(AGGREGATE));
    }

    #[test]
    fn layout_comments_and_prefixes_do_not_matter() {
        let relaid = "# the same question\nPREFIX y: <urn:x#>\nSELECT ?v (COUNT(DISTINCT ?s) AS ?n) WHERE {\n  ?s y:p [ y:q ?v ] ;\n     y:r/y:t* ?o .\n  FILTER(?o > 1)\n}\nGROUP BY ?v\n";
        assert_eq!(canonical(AGGREGATE), canonical(relaid));
    }

    #[test]
    fn one_changed_character_matters() {
        for changed in [
            AGGREGATE.replace("?o > 1", "?o > 2"),
            AGGREGATE.replace("COUNT(DISTINCT", "COUNT("),
            AGGREGATE.replace("AS ?n", "AS ?m"),
            AGGREGATE.replace("x:t*", "x:t+"),
        ] {
            assert_ne!(canonical(AGGREGATE), canonical(&changed), "{changed}");
        }
    }
}
