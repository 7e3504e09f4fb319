//! The shipped profiles as the exchange sees them: a consumer's query text is matched to a
//! registered query after parsing.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;

use kikv::profile::Registry;
use kikv::store::parse_read_only;

#[test]
fn a_registered_aggregate_query_matches_despite_layout_and_prefixes() {
    let (registry, problems) = Registry::load_dir(&common::repo_root().join("profiles")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let profile = registry
        .get("https://kik-v.example/profiles/demo", "1.0")
        .unwrap();
    let registered = &profile.query("1").unwrap().text;
    // Same query: other prefix names, no comments, other whitespace. It has an aggregate, whose
    // variable the parser names at random on every parse.
    let relaid = registered
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n   ")
        .replace("onz-pers:", "p:");
    assert_ne!(&relaid, registered);
    let found = profile.matching_query(&parse_read_only(&relaid).unwrap());
    assert_eq!(found.map(|q| q.id.as_str()), Some("1"));
    // One character changed (>= becomes >) is another query.
    let changed = registered.replace("?eind >= ?peildatum", "?eind > ?peildatum");
    assert_ne!(&changed, registered);
    assert!(profile
        .matching_query(&parse_read_only(&changed).unwrap())
        .is_none());
}

/// The official NZa Wmg and VWS JVZ shapes declare `?jaar` as `xsd:gYear` between 2024 and
/// 2026: a consumer's year binds as an `xsd:gYear` literal, which the queries turn into a date
/// with `STR(?jaar)`; anything else is refused with its reason.
#[test]
fn a_year_parameter_binds_as_xsd_gyear_within_the_published_bounds() {
    use kikv::profile::{ParameterError, ParameterType};
    use oxigraph::model::vocab::xsd;
    use oxigraph::model::{Literal, Term, Variable};
    use serde_json::json;

    let (registry, problems) = Registry::load_dir(&common::repo_root().join("profiles")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let profile = registry
        .get("https://kik-v.example/afsprakenset/nza-wmg", "1.1.1")
        .unwrap();
    let jaar = &profile.query("1.1.1").unwrap().parameters[0];
    assert_eq!(
        (jaar.name.as_str(), jaar.kind),
        ("jaar", ParameterType::GYear)
    );
    assert!(jaar.required);
    let year = |y: &str| Term::from(Literal::new_typed_literal(y, xsd::G_YEAR));
    assert_eq!(jaar.bind(&json!(2025)), Ok(year("2025")));
    assert_eq!(jaar.bind(&json!("2024")), Ok(year("2024")));
    for refused in [
        json!("24"),
        json!("02025"),
        json!("2025-01"),
        json!("2025Z"),
        json!("+2025"),
        json!(2025.5),
        json!("twee"),
        json!(true),
    ] {
        let shown = match &refused {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(
            jaar.bind(&refused),
            Err(ParameterError::WrongType {
                name: "jaar".into(),
                value: shown,
                expected: "year (xsd:gYear, YYYY)".into(),
            })
        );
    }
    for outside in [2023, 2027] {
        assert_eq!(
            jaar.bind(&json!(outside)),
            Err(ParameterError::OutOfRange {
                name: "jaar".into(),
                value: outside.to_string(),
                bounds: "2024 to 2026".into(),
            })
        );
    }

    // Bound into a query as the exchange binds it, the year gives the date the queries build.
    let query = parse_read_only(
        "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n\
         SELECT (STRDT(CONCAT(STR(?jaar), \"-01-01\"), xsd:date) AS ?d) WHERE {}",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = kikv::store::NodeStore::open(dir.path()).unwrap();
    let limits = kikv::store::QueryLimits {
        timeout: std::time::Duration::from_secs(10),
        max_rows: 10,
    };
    let bindings = vec![(Variable::new("jaar").unwrap(), year("2025"))];
    let kikv::store::QueryAnswer::Solutions { rows, .. } =
        store.evaluate(&query, &bindings, limits).unwrap()
    else {
        panic!("a SELECT");
    };
    assert_eq!(
        rows,
        [[Some(Term::from(Literal::new_typed_literal(
            "2025-01-01",
            xsd::DATE
        )))]]
    );
}
