//! Engine semantics the indicators depend on, checked on Oxigraph as the node uses it. Each
//! assertion records current behaviour, expected values computed by chrono, by hand, or by
//! Apache Jena ARQ 4.5 (marked "Jena:" with the value Jena printed); a change in the engine makes
//! one of them fail and must be looked at. The node's own path is a real on-disk `NodeStore`
//! answering through `NodeStore::evaluate` (every rewrite of `prepare`, the evaluator with the
//! node's functions).

#![allow(clippy::panic, clippy::unwrap_in_result)] // a test fails by panicking

use std::time::Duration;

use chrono::{Months, NaiveDate};
use kikv::store::{
    parse_read_only, pin_duration_addition, LoadRequest, NoProgress, NodeStore, QueryAnswer,
    QueryLimits,
};
use oxigraph::model::vocab::xsd;
use oxigraph::model::Term;
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;

/// How the expression is handed to the engine.
#[derive(Clone, Copy)]
enum Mode {
    /// As plain Oxigraph evaluates it (sparopt's optimiser first).
    Plain,
    /// Without sparopt's optimiser.
    Unoptimised,
    /// As the node evaluates it: optimised, after `pin_duration_addition`.
    Node,
}

fn eval(expression: &str) -> Option<String> {
    eval_in(Mode::Plain, expression)
}

fn eval_in(mode: Mode, expression: &str) -> Option<String> {
    let text = format!(
        "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> SELECT ?x WHERE {{ BIND({expression} AS ?x) }}"
    );
    let mut query = spargebra::SparqlParser::new().parse_query(&text).unwrap();
    let mut evaluator = SparqlEvaluator::new();
    match mode {
        Mode::Plain => {}
        Mode::Unoptimised => evaluator = evaluator.without_optimizations(),
        Mode::Node => query = pin_duration_addition(query),
    }
    let store = Store::new().unwrap();
    let QueryResults::Solutions(mut solutions) = evaluator
        .for_query(query)
        .on_store(&store)
        .execute()
        .unwrap()
    else {
        panic!("not a SELECT")
    };
    let solution = solutions
        .next()
        .expect("one solution")
        .expect("no evaluation error");
    solution.get("x").map(|term| match term {
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    })
}

fn chrono_plus_months(date: &str, months: u32) -> String {
    let d: NaiveDate = date.parse().unwrap();
    d.checked_add_months(Months::new(months))
        .unwrap()
        .to_string()
}

/// Official quarter queries compute the quarter's end as `start + "P3M" + "-P1D"`. On plain
/// Oxigraph 0.5.13 some of these additions are unbound. The cause (read in the sources): sparopt
/// 0.3.9's optimiser rebuilds `a + b` with `impl Add for Expression`, which orders the operands
/// by their `DefaultHasher` hash (`order_pair`, as if `+` were commutative), and spareval 0.2.9's
/// `+` (`NumericBinaryOperands::new`) has cases for date/dateTime/time + duration only, not for
/// duration + date: when the hash puts the duration first the addition is a type error and the
/// `BIND` variable stays unbound. The date arithmetic of oxsdatatypes 0.2.4 is right, and so is
/// the calendar data: the same expressions are right without the optimiser, and wrong for a
/// duration written first. Whether a date fails depends only on the hashes of the two operand
/// expressions (the literal's text), so it looks arbitrary: 2024-01-01 fails, 2024-07-01 works.
#[test]
fn the_optimiser_swaps_date_plus_duration_into_an_order_the_engine_cannot_add() {
    let failing = [("2024-01-01", 3), ("2024-04-01", 3), ("2023-01-01", 3)];
    let working = [
        ("2024-07-01", 3),
        ("2024-10-01", 3),
        ("2024-01-02", 1),
        ("2024-01-31", 1),
    ];
    for (date, months) in failing {
        let expression = format!("xsd:date(\"{date}\") + \"P{months}M\"^^xsd:duration");
        assert_eq!(
            eval(&expression),
            None,
            "{expression} now works on plain Oxigraph: revisit sparql/src/arithmetic.rs"
        );
    }
    for (date, months) in failing.into_iter().chain(working) {
        let expected = Some(chrono_plus_months(date, months));
        let expression = format!("xsd:date(\"{date}\") + \"P{months}M\"^^xsd:duration");
        assert_eq!(
            eval_in(Mode::Unoptimised, &expression),
            expected,
            "{expression}"
        );
        assert_eq!(eval_in(Mode::Node, &expression), expected, "{expression}");
        let swapped = format!("\"P{months}M\"^^xsd:duration + xsd:date(\"{date}\")");
        assert_eq!(eval_in(Mode::Unoptimised, &swapped), None, "{swapped}");
        // XPath defines yearMonthDuration + date too; the node's rewrite gives it.
        assert_eq!(eval_in(Mode::Node, &swapped), expected, "{swapped}");
    }
    for (date, months) in working {
        let expression = format!("xsd:date(\"{date}\") + \"P{months}M\"^^xsd:duration");
        assert_eq!(
            eval(&expression),
            Some(chrono_plus_months(date, months)),
            "{expression}"
        );
    }
}

/// The whole quarter-end expression of the official queries, for every quarter of 2015–2035:
/// plain Oxigraph gets some wrong, the node (after `pin_duration_addition`) gets all right.
#[test]
fn quarter_end_expression_of_the_official_queries() {
    let mut failing = Vec::new();
    for year in 2015..=2035 {
        for month in [1, 4, 7, 10] {
            let start = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
            let expected = start
                .checked_add_months(Months::new(3))
                .unwrap()
                .pred_opt()
                .unwrap();
            let expression =
                format!("xsd:date(\"{start}\") + \"P3M\"^^xsd:duration + \"-P1D\"^^xsd:duration");
            if eval(&expression) != Some(expected.to_string()) {
                failing.push(start);
            }
            assert_eq!(
                eval_in(Mode::Node, &expression),
                Some(expected.to_string()),
                "{expression} on the node"
            );
        }
    }
    println!("quarter ends plain Oxigraph gets wrong: {failing:?}");
    assert!(
        !failing.is_empty(),
        "plain Oxigraph gets every quarter end right now: sparql/src/arithmetic.rs may be dropped"
    );
}

/// Leap days, month ends and negative durations through the node's rewrite equal chrono.
#[test]
fn date_arithmetic_on_the_node_equals_chrono() {
    let mut day = NaiveDate::from_ymd_opt(2023, 12, 25).unwrap();
    while day < NaiveDate::from_ymd_opt(2024, 3, 5).unwrap() {
        for months in [1, 3, 12] {
            let plus = format!("xsd:date(\"{day}\") + \"P{months}M\"^^xsd:duration");
            assert_eq!(
                eval_in(Mode::Node, &plus),
                Some(chrono_plus_months(&day.to_string(), months)),
                "{plus}"
            );
        }
        let minus_day = format!("xsd:date(\"{day}\") + \"-P1D\"^^xsd:duration");
        assert_eq!(
            eval_in(Mode::Node, &minus_day),
            Some(day.pred_opt().unwrap().to_string()),
            "{minus_day}"
        );
        day = day.succ_opt().unwrap();
    }
    // Not a temporal value: still an error, as with `+`.
    assert_eq!(eval_in(Mode::Node, "1 + \"P1D\"^^xsd:duration"), None);
    assert_eq!(eval_in(Mode::Node, "1 + 2").as_deref(), Some("3"));
}

/// `?peildatum - "P1Y"` clamps 29 February to 28 February, as chrono does.
#[test]
fn subtracting_a_year_clamps_the_leap_day() {
    let expected = NaiveDate::from_ymd_opt(2024, 2, 29)
        .unwrap()
        .checked_sub_months(Months::new(12))
        .unwrap();
    assert_eq!(
        eval("xsd:date(\"2024-02-29\") - \"P1Y\"^^xsd:duration"),
        Some(expected.to_string())
    );
}

/// Integer division gives an xsd:decimal truncated at 18 fractional digits, and ROUND rounds
/// half towards positive infinity: ratios are exact enough that rounding to two decimals equals
/// rounding the exact fraction (the independent computation uses exact integers).
#[test]
fn decimal_division_and_rounding() {
    assert_eq!(eval("7/2").as_deref(), Some("3.5"));
    assert_eq!(eval("1/3*3").as_deref(), Some("0.999999999999999999"));
    assert_eq!(eval("ROUND(2.5)").as_deref(), Some("3"));
    assert_eq!(eval("ROUND(-2.5)").as_deref(), Some("-2"));
    assert_eq!(eval("ROUND(100 * 1/3) / 100").as_deref(), Some("0.33"));
}

const LIMITS: QueryLimits = QueryLimits {
    timeout: Duration::from_secs(30),
    max_rows: 10_000,
};

/// A real node store on disk holding one dataset, answering as the exchange does.
struct Node {
    _dir: tempfile::TempDir,
    store: NodeStore,
}

impl Node {
    fn with_data(turtle: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(&dir.path().join("store")).unwrap();
        let file = dir.path().join("data.ttl");
        std::fs::write(&file, turtle).unwrap();
        let request = LoadRequest {
            files: vec![file],
            graph: Some("https://provider.test/data".into()),
            replace: false,
            format: None,
            ontologies: vec![],
            memory_mb: 64,
        };
        store.load(&request, &NoProgress).unwrap();
        Self { _dir: dir, store }
    }

    fn empty() -> Self {
        Self::with_data("<urn:x> <urn:p> <urn:y> .")
    }

    /// Every row of `query`, each cell written `value` for strings and IRIs and
    /// `value^^localname` for other literals (as the Jena results are quoted in the tests).
    fn rows(&self, query: &str) -> Vec<Vec<Option<String>>> {
        let text = format!(
            "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> PREFIX ex: <http://example.org/> {query}"
        );
        let parsed = parse_read_only(&text).unwrap();
        let QueryAnswer::Solutions { rows, .. } =
            self.store.evaluate(&parsed, &[], LIMITS).unwrap()
        else {
            panic!("not a SELECT")
        };
        rows.into_iter()
            .map(|row| row.into_iter().map(|cell| cell.map(shown)).collect())
            .collect()
    }

    /// `expression` evaluated once, as [`Node::rows`] writes it.
    fn value(&self, expression: &str) -> Option<String> {
        let mut rows = self.rows(&format!("SELECT ?x WHERE {{ BIND({expression} AS ?x) }}"));
        assert_eq!(rows.len(), 1, "{expression}");
        rows.remove(0).remove(0)
    }

    /// Asserts each `(expression, expected)` pair, listing every difference.
    fn assert_values(&self, cases: &[(&str, Option<&str>)]) {
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(expression, expected)| {
                let got = self.value(expression);
                (got.as_deref() != *expected)
                    .then(|| format!("{expression}: expected {expected:?}, got {got:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

fn shown(term: Term) -> String {
    match term {
        Term::Literal(l) if l.datatype() == xsd::STRING => l.value().to_owned(),
        Term::Literal(l) => {
            let datatype = l.datatype().as_str();
            let local = datatype.rsplit('#').next().unwrap_or(datatype);
            format!("{}^^{local}", l.value())
        }
        Term::NamedNode(n) => n.into_string(),
        other => other.to_string(),
    }
}

/// Departure 1. oxsdatatypes 0.2.4 gives no product when the exact one needs more than 18
/// fractional digits, and no quotient for a zero dividend over a divisor with a fractional part
/// or for a large dividend over one with many fractional digits; XPath rounds instead
/// (sparql/src/numeric.rs). Jena's values are exact (products) or rounded at 24 digits (quotients);
/// the node rounds to the nearest at the 18 digits it keeps, so its value is Jena's rounded there.
#[test]
fn decimal_products_and_quotients_have_a_value_where_oxsdatatypes_gives_none() {
    let failing = [
        "0 / 2.5",
        "0.236111111111111111 * 0.5",
        "1000 / 0.236111111111111111",
        "0.333333333333333333 * 0.333333333333333333",
    ];
    for expression in failing {
        assert_eq!(
            eval(expression),
            None,
            "{expression} works on plain Oxigraph now: revisit sparql/src/numeric.rs"
        );
    }
    Node::empty().assert_values(&[
        // Jena: 0.0 (the same value; Jena writes a decimal with a point, XPath's canonical
        // form of an integral decimal has none).
        ("0 / 2.5", Some("0^^decimal")),
        ("0 / 0.5", Some("0^^decimal")),
        // Jena: 0.1180555555555555555 (exact); the 19th digit is a tie, to the even 6.
        (
            "0.236111111111111111 * 0.5",
            Some("0.118055555555555556^^decimal"),
        ),
        // Jena: 4235.294117647058825522491349.
        (
            "1000 / 0.236111111111111111",
            Some("4235.294117647058825522^^decimal"),
        ),
        // Jena: 0.111111111111111110888888888888888889.
        (
            "0.333333333333333333 * 0.333333333333333333",
            Some("0.111111111111111111^^decimal"),
        ),
        // Jena: 0.666666666666666666666667 (oxsdatatypes alone truncates to …666).
        ("2 / 3", Some("0.666666666666666667^^decimal")),
        ("-2 / 3", Some("-0.666666666666666667^^decimal")),
        // Jena: 3.75, 4.5, 0.7.
        ("1.5 * 2.5", Some("3.75^^decimal")),
        ("36 * 0.5 / 36 * (10 - 2 + 1)", Some("4.5^^decimal")),
        ("7 * 0.1", Some("0.7^^decimal")),
        // Division by zero: an error for integers and decimals (Jena: unbound, unbound),
        // infinite or NaN for doubles (Jena: INF, NaN, -INF).
        ("1 / 0", None),
        ("1.0 / 0", None),
        ("1e0 / 0", Some("INF^^double")),
        ("0e0 / 0", Some("NaN^^double")),
        ("-1 / 0e0", Some("-INF^^double")),
        // Types (Jena: decimal, double, decimal, integer, double, float).
        (
            "DATATYPE(4 / 2)",
            Some("http://www.w3.org/2001/XMLSchema#decimal"),
        ),
        (
            "DATATYPE(1.0e0 + 1)",
            Some("http://www.w3.org/2001/XMLSchema#double"),
        ),
        (
            "DATATYPE(7 / 7)",
            Some("http://www.w3.org/2001/XMLSchema#decimal"),
        ),
        (
            "DATATYPE(2 * 3)",
            Some("http://www.w3.org/2001/XMLSchema#integer"),
        ),
        (
            "DATATYPE(2 * 1.0e0)",
            Some("http://www.w3.org/2001/XMLSchema#double"),
        ),
        (
            "DATATYPE(xsd:float(1) * 2)",
            Some("http://www.w3.org/2001/XMLSchema#float"),
        ),
    ]);
}

/// The part-time factor chain of the official NZa 1.1 / VWS 4.2 queries: `?ptf` is a quotient
/// with no finite decimal form, then multiplied on. Plain Oxigraph has no value (the product
/// needs more than 18 digits) and `COALESCE(…, 0)` around it, as 1.4.2 writes, counts zero.
#[test]
fn the_part_time_factor_chain_of_the_official_queries() {
    let node = Node::empty();
    let chain = "SELECT ?ptf ?days ?kept WHERE { \
        BIND(12 * 0.8 / 36 AS ?ptf) \
        BIND((31 - 1 + 1) * ?ptf * 0.5 * (100 - 40) / 100 AS ?days) \
        BIND(COALESCE(?ptf * ?ptf, 0.0) AS ?kept) }";
    // Jena: 0.266666666666666666666667, 2.4800000000000000000000031, and ptf² =
    // 0.071111111111111111111111288888888888888888888889 (all from running the query).
    assert_eq!(
        node.rows(chain),
        [[
            Some("0.266666666666666667^^decimal".to_owned()),
            Some("2.480000000000000003^^decimal".to_owned()),
            Some("0.071111111111111111^^decimal".to_owned()),
        ]]
    );
    // ROUND to two decimals, as the indicators report it: 2.48 on both (Jena: 2.48).
    assert_eq!(
        node.value("ROUND((31 - 1 + 1) * (12 * 0.8 / 36) * 0.5 * (100 - 40) / 100 * 100) / 100")
            .as_deref(),
        Some("2.48^^decimal")
    );
}

/// Departure 2. The engine keeps the query's numbers as values, so `STR(01)` was `"1"`
/// (sparql/src/lexical.rs). Jena: "01", "1.50", "1e0".
#[test]
fn str_of_a_number_the_query_writes_is_its_written_form() {
    let plain = eval("STR(01)");
    assert_eq!(plain.as_deref(), Some("1"), "plain Oxigraph keeps 01 as 1");
    let node = Node::empty();
    node.assert_values(&[
        ("STR(01)", Some("01")),
        ("STR(1.50)", Some("1.50")),
        ("STR(1e0)", Some("1e0")),
        ("CONCAT(STR(2024), '-', STR(01))", Some("2024-01")),
        // Computed values have no written form: XPath's canonical one (Jena: "3.5", "0.3",
        // "0.125"; "2.0" and "5.0e0" where XPath 3.1's cast to string writes "2" and "5.0E0";
        // Oxigraph writes doubles as "5"; see str_of_computed_numbers_is_their_canonical_form).
        ("STR(7 / 2)", Some("3.5")),
        ("STR(0.1 + 0.2)", Some("0.3")),
        ("STR(1 / 8)", Some("0.125")),
    ]);
    // A VALUES table and a BIND of a constant, read in the same group, through a sub-select
    // and a GROUP BY. Jena: 07 and "07" on every row.
    let rows = node.rows(
        "SELECT ?m ?label ?outer WHERE { \
           { SELECT ?m (COUNT(*) AS ?n) (SAMPLE(STR(?m)) AS ?label) WHERE { VALUES ?m { 07 } ?s ?p ?o } GROUP BY ?m } \
           BIND(STR(?m) AS ?outer) }",
    );
    assert_eq!(
        rows,
        [[
            Some("7^^integer".to_owned()),
            Some("07".to_owned()),
            Some("07".to_owned())
        ]]
    );
    let bound = node.rows("SELECT * WHERE { BIND(05 AS ?d) BIND(STR(?d) AS ?s) }");
    assert_eq!(
        bound,
        [[Some("5^^integer".to_owned()), Some("05".to_owned())]],
        "the answer has the query's two columns, the companion stays inside"
    );
}

/// The month dates of the official VWS JVZ 4.1 query, for every month: on plain Oxigraph
/// January to September were `"2024-1-01"`, not a date. Jena (running this query):
/// 2024-01-01 … 2024-12-01 and ends 2024-01-31, 2024-02-29, 2024-03-31, 2024-04-30, …
#[test]
fn official_4_1_month_dates_from_values() {
    let node = Node::empty();
    let rows = node.rows(
        "SELECT ?start ?end WHERE { BIND(2024 AS ?jaar) \
           VALUES ?maand {01 02 03 04 05 06 07 08 09 10 11 12} \
           BIND(xsd:date(CONCAT(STR(?jaar),'-',STR(?maand),'-01')) AS ?start) \
           BIND(?start + \"P1M\"^^xsd:duration + \"-P1D\"^^xsd:duration AS ?end) } ORDER BY ?start",
    );
    let expected: Vec<Vec<Option<String>>> = (1..=12)
        .map(|month| {
            let start = NaiveDate::from_ymd_opt(2024, month, 1).unwrap();
            let end = start
                .checked_add_months(Months::new(1))
                .unwrap()
                .pred_opt()
                .unwrap();
            vec![Some(format!("{start}^^date")), Some(format!("{end}^^date"))]
        })
        .collect();
    assert_eq!(rows, expected);
}

/// Item 3: date and dateTime ± durations on the node. Every value is Jena's.
#[test]
fn date_and_datetime_plus_and_minus_durations() {
    Node::empty().assert_values(&[
        (
            r#"xsd:date("2024-01-31") + "P1M"^^xsd:duration"#,
            Some("2024-02-29^^date"),
        ),
        (
            r#"xsd:date("2024-03-31") - "P1M"^^xsd:yearMonthDuration"#,
            Some("2024-02-29^^date"),
        ),
        (
            r#"xsd:date("2024-02-29") - "P1Y"^^xsd:yearMonthDuration"#,
            Some("2023-02-28^^date"),
        ),
        (
            r#"xsd:date("2024-01-01") + "P3M"^^xsd:duration + "-P1D"^^xsd:duration"#,
            Some("2024-03-31^^date"),
        ),
        (
            r#"xsd:dateTime("2024-01-31T10:00:00") + "P1M"^^xsd:duration"#,
            Some("2024-02-29T10:00:00^^dateTime"),
        ),
        (
            r#"xsd:date("2024-01-01") + "PT36H"^^xsd:dayTimeDuration"#,
            Some("2024-01-02^^date"),
        ),
        (
            r#"xsd:date("2024-01-01") + "P1M1D"^^xsd:duration"#,
            Some("2024-02-02^^date"),
        ),
        (
            r#"xsd:date("2024-08-31") - "P6M"^^xsd:yearMonthDuration"#,
            Some("2024-02-29^^date"),
        ),
        (
            r#"xsd:date("2023-03-31") + "-P1M"^^xsd:duration"#,
            Some("2023-02-28^^date"),
        ),
        (
            r#"xsd:dateTime("2024-03-01T00:00:00") - "PT1S"^^xsd:dayTimeDuration"#,
            Some("2024-02-29T23:59:59^^dateTime"),
        ),
        (
            r#"xsd:date("2024-03-01") - "P1D"^^xsd:dayTimeDuration"#,
            Some("2024-02-29^^date"),
        ),
        (
            r#"xsd:date("2024-12-31") + "P2M"^^xsd:yearMonthDuration"#,
            Some("2025-02-28^^date"),
        ),
        (
            r#"xsd:date("2024-05-31") + "P1Y1M"^^xsd:duration"#,
            Some("2025-06-30^^date"),
        ),
        (
            r#"xsd:date("2024-01-01") + "P1DT12H"^^xsd:duration"#,
            Some("2024-01-02^^date"),
        ),
        // Jena: P1DT12H0M0.000S and P1DT0H0M0.000S (xsd:duration); the node gives the same
        // durations as xsd:dayTimeDuration, which is what XPath's op:subtract-dateTimes and
        // op:subtract-dates return.
        (
            r#"xsd:dateTime("2024-01-01T12:00:00") - xsd:dateTime("2023-12-31T00:00:00")"#,
            Some("P1DT12H^^dayTimeDuration"),
        ),
        (
            r#"xsd:date("2024-01-02") - xsd:date("2024-01-01")"#,
            Some("P1D^^dayTimeDuration"),
        ),
    ]);
}

/// Item 3: ROUND/CEIL/FLOOR and casts. Values are Jena's unless a comment says otherwise.
#[test]
fn numeric_rounding_and_casts() {
    Node::empty().assert_values(&[
        // fn:round rounds half towards positive infinity. Jena writes the decimals 3.0, -2.0,
        // 1.0, 0.0, -1.0, -2.0, 67.0, 101.0: the same values.
        ("ROUND(2.5)", Some("3^^decimal")),
        ("ROUND(-2.5)", Some("-2^^decimal")),
        ("ROUND(0.5)", Some("1^^decimal")),
        ("ROUND(-0.5)", Some("0^^decimal")),
        ("ROUND(2.5e0)", Some("3^^double")),
        ("ROUND(-2.5e0)", Some("-2^^double")),
        ("ROUND(1.45e0)", Some("1^^double")),
        ("CEIL(-1.5)", Some("-1^^decimal")),
        ("CEIL(-0.5)", Some("0^^decimal")),
        ("FLOOR(-1.5)", Some("-2^^decimal")),
        ("CEIL(1.2e0)", Some("2^^double")),
        ("FLOOR(2)", Some("2^^integer")),
        ("ABS(-1.50)", Some("1.5^^decimal")),
        ("ROUND(100 * 2 / 3)", Some("67^^decimal")),
        ("ROUND(1.005 * 100)", Some("101^^decimal")),
        ("ROUND(1.25 * 10) / 10", Some("1.3^^decimal")),
        // Casts. Jena keeps the written form of a cast string ("2.50", "012", "-0"); XPath
        // casts to the value, whose canonical form the node writes.
        (r#"xsd:decimal("2.50")"#, Some("2.5^^decimal")),
        (r#"xsd:integer("012")"#, Some("12^^integer")),
        (r#"xsd:decimal("-0")"#, Some("0^^decimal")),
        ("xsd:decimal(2.5e0)", Some("2.5^^decimal")),
        ("xsd:decimal(1)", Some("1^^decimal")),
        // A double becomes the closest decimal (XPath 3.1 §19.1.2.3; sparql/src/numeric.rs). Jena:
        // 0.1 (the double's shortest form; the text wins), 100000000000000000000.0 and
        // 1000000 (the same values). Plain Oxigraph: 0.1, 99999999999999997748.809823456034029568
        // and 999999.999999999983222784.
        ("xsd:decimal(0.1e0)", Some("0.100000000000000006^^decimal")),
        ("xsd:decimal(1e20)", Some("100000000000000000000^^decimal")),
        ("xsd:decimal(1000000e0)", Some("1000000^^decimal")),
        ("FLOOR(xsd:decimal(1000000e0))", Some("1000000^^decimal")),
        ("xsd:integer(2.7)", Some("2^^integer")),
        ("xsd:integer(-2.7e0)", Some("-2^^integer")),
        ("xsd:integer(2.5e0)", Some("2^^integer")),
        ("xsd:integer(true)", Some("1^^integer")),
        // Not in the lexical space: errors on both (Jena: unbound ×4).
        (r#"xsd:integer("2.5")"#, None),
        (r#"xsd:decimal("1e3")"#, None),
        (r#"xsd:integer(" 12 ")"#, None),
        (r#"xsd:decimal("abc")"#, None),
    ]);
}

/// Item 3: xsd:date against xsd:dateTime. XPath defines no comparison between the two types,
/// and SPARQL's `=` on two different literals it cannot compare is a type error
/// (RDFterm-equal, SPARQL 1.1 §17.4.1.7). Jena: `<` unbound, `=` false.
#[test]
fn a_date_and_a_datetime_do_not_compare() {
    Node::empty().assert_values(&[
        (
            r#"xsd:date("2024-01-01") < xsd:dateTime("2024-01-01T10:00:00")"#,
            None,
        ),
        (
            r#"xsd:date("2024-01-01") > xsd:dateTime("2023-01-01T10:00:00")"#,
            None,
        ),
        (
            r#"xsd:date("2024-01-01") = xsd:dateTime("2024-01-01T00:00:00")"#,
            DATE_EQUALS_DATETIME,
        ),
        // Compared as dates they work: what the official queries do (xsd:date(?dateTime)).
        (
            r#"xsd:date("2024-01-01") <= xsd:date(xsd:dateTime("2024-01-01T10:00:00"))"#,
            Some("true^^boolean"),
        ),
    ]);
}

/// Item 3: GROUP BY over an unbound key makes one group for it, and an aggregate over a group
/// with an unbound or erroneous value is an error (SPARQL 1.1 §18.5.1, the aggregate of a list
/// holding an error); COUNT(?v) skips the unbound ones. The data: a and b in group g1 with
/// values, c in g1 without, d and e with values and no group, f in g2 without a value.
#[test]
fn groups_over_unbound_keys_and_aggregates_over_unbound_values() {
    let node = Node::with_data(AGGREGATE_DATA);
    // Jena, running this query:
    //   g,n,rows,sum,avg,min,max,sq
    //   ,2,2,5,2.5,2,3,13
    //   g1,2,2,0.736111111111111111,0.3680555555555555555,0.236111111111111111,0.5,
    //      0.305748456790123456737654320987654321
    let by_group = node.rows(
        "SELECT ?g (COUNT(?v) AS ?n) (COUNT(*) AS ?rows) (SUM(?v) AS ?sum) (AVG(?v) AS ?avg) \
           (MIN(?v) AS ?min) (MAX(?v) AS ?max) (SUM(?v * ?v) AS ?sq) \
         WHERE { ?s ex:v ?v OPTIONAL { ?s ex:group ?g } } GROUP BY ?g ORDER BY ?g",
    );
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        by_group,
        [
            vec![
                None,
                some("2^^integer"),
                some("2^^integer"),
                some("5^^integer"),
                some("2.5^^decimal"),
                some("2^^integer"),
                some("3^^integer"),
                some("13^^integer"),
            ],
            vec![
                some("g1"),
                some("2^^integer"),
                some("2^^integer"),
                some("0.736111111111111111^^decimal"),
                // Jena's exact 0.3680555555555555555 needs 19 digits: a tie, to the even 6
                // (the engine's own AVG truncates to …555; sparql/src/numeric.rs rewrites it).
                some("0.368055555555555556^^decimal"),
                some("0.236111111111111111^^decimal"),
                some("0.5^^decimal"),
                // Jena's value rounded to 18 digits (plain Oxigraph: unbound, the square
                // needs 36 digits).
                some("0.305748456790123457^^decimal"),
            ],
        ]
    );
    // Jena:
    //   s,n,sum,avg,min,max,c
    //   a,1,0.236111111111111111,0.236111111111111111,0.236111111111111111,0.236111111111111111,0.472222222222222222
    //   b,1,0.5,0.5,0.5,0.5,1.0
    //   c,0,,,,,0
    //   f,0,,,,,0
    let by_subject = node.rows(
        "SELECT ?s (COUNT(?v) AS ?n) (SUM(?v) AS ?sum) (AVG(?v) AS ?avg) (MIN(?v) AS ?min) \
           (MAX(?v) AS ?max) (SUM(COALESCE(?v * 2, 0)) AS ?c) \
         WHERE { ?s ex:group ?g OPTIONAL { ?s ex:v ?v } } GROUP BY ?s ORDER BY ?s",
    );
    let d = "0.236111111111111111^^decimal";
    let without = vec![
        None,
        some("0^^integer"),
        None,
        None,
        None,
        None,
        some("0^^integer"),
    ];
    let mut c = without.clone();
    c[0] = some("http://example.org/c");
    let mut f = without;
    f[0] = some("http://example.org/f");
    assert_eq!(
        by_subject,
        [
            vec![
                some("http://example.org/a"),
                some("1^^integer"),
                some(d),
                some(d),
                some(d),
                some(d),
                some("0.472222222222222222^^decimal"),
            ],
            vec![
                some("http://example.org/b"),
                some("1^^integer"),
                some("0.5^^decimal"),
                some("0.5^^decimal"),
                some("0.5^^decimal"),
                some("0.5^^decimal"),
                // Jena: 1.0.
                some("1^^decimal"),
            ],
            c,
            f,
        ]
    );
    // No solutions at all: one group. Jena: n 0, sum 0, avg 0, min and max unbound, rows 0.
    let empty = node.rows(
        "SELECT (COUNT(?v) AS ?n) (SUM(?v) AS ?sum) (AVG(?v) AS ?avg) (MIN(?v) AS ?min) \
           (MAX(?v) AS ?max) (COUNT(*) AS ?rows) WHERE { ?s ex:nothing ?v }",
    );
    assert_eq!(
        empty,
        [[
            some("0^^integer"),
            some("0^^integer"),
            some("0^^integer"),
            None,
            None,
            some("0^^integer"),
        ]]
    );
}

/// `=` of an xsd:date and an xsd:dateTime: false on the node and on Jena, where SPARQL 1.1's
/// RDFterm-equal says type error. Not changed: inside a FILTER both drop the row, and only
/// under `!` or `||` would the error differ from false; no official query compares the two
/// types (they cast with xsd:date first).
const DATE_EQUALS_DATETIME: Option<&str> = Some("false^^boolean");

const AGGREGATE_DATA: &str = r#"
@prefix ex: <http://example.org/> .
ex:a ex:group "g1" ; ex:v 0.236111111111111111 .
ex:b ex:group "g1" ; ex:v 0.5 .
ex:c ex:group "g1" .
ex:d ex:v 2 .
ex:e ex:v 3 .
ex:f ex:group "g2" .
"#;

/// Item 3: `STR` of a computed number is its canonical form (XPath 3.1 §19.1.2.2, casting to
/// xs:string). Jena departs from the text for integral decimals and doubles: it writes the
/// decimal 2 as "2.0" and the double 5 as "5.0e0"; XPath writes "2" and "5.0E0"; the node
/// writes "2" and "5" (Oxigraph's double form). Official zorgkantoren 14.2 prints
/// `STR(ROUND(… * 1000) / 1000)`: for a whole number the node answers "2" where Jena answers
/// "2.0" (the same number).
#[test]
fn str_of_computed_numbers_is_their_canonical_form() {
    // Expected values are Jena 4.5's (arq, checked by hand): a whole computed decimal keeps its
    // decimal point, XML Schema 1.0's canonical form (see lexical.rs). A double is written as the
    // engine writes it ("5"; Jena "5.0e0", XSD 1.0 "5.0E0"): no official query prints one.
    Node::empty().assert_values(&[
        ("STR(4 / 2)", Some("2.0")),
        ("STR(ROUND(2.5))", Some("3.0")),
        ("STR(ROUND(7))", Some("7")),
        ("STR(1 + 1.0)", Some("2.0")),
        ("STR(-(2.0))", Some("-2.0")),
        ("STR(10 / 4)", Some("2.5")),
        ("CONCAT('x', STR(3 * 0.5))", Some("x1.5")),
        ("STR(2.5e0 * 2)", Some("5")),
        ("STR(ROUND(2 / 3 * 1000) / 1000)", Some("0.667")),
        ("STR(ROUND(0 * 1000) / 1000)", Some("0.0")),
    ]);
}

/// The cost of the arithmetic rewrite on a query with per-row arithmetic: 100,000 rows, plain
/// Oxigraph (the engine's operators only) against the node. Run with
/// `cargo test -p kikv --test store -- --ignored --nocapture engine_semantics::per_row`.
#[test]
#[ignore = "a measurement: prints timings"]
fn per_row_arithmetic_cost() {
    const N: i64 = 100_000;
    let mut turtle = String::from("@prefix ex: <http://example.org/> .\n");
    for i in 0..N {
        turtle.push_str(&format!(
            "ex:s{i} ex:w {i} ; ex:q 0.25 ; ex:v 0.236111111111111111 .\n"
        ));
    }
    let node = Node::with_data(&turtle);
    let queries = [
        // A product the engine computes exactly: only the COALESCE around it is added.
        (
            "w * q",
            "SELECT (SUM(?w * ?q) AS ?x) WHERE { ?s ex:w ?w ; ex:q ?q }",
        ),
        // A product of a variable and an integer literal: not rewritten.
        (
            "w * 100",
            "SELECT (SUM(?w * 100) AS ?x) WHERE { ?s ex:w ?w }",
        ),
        // A quotient: always the node's function (the engine's truncates).
        ("w / 36", "SELECT (SUM(?w / 36) AS ?x) WHERE { ?s ex:w ?w }"),
        // A product the engine gives up on: the engine's operator, then the function.
        ("v * v", "SELECT (SUM(?v * ?v) AS ?x) WHERE { ?s ex:v ?v }"),
        ("count", "SELECT (COUNT(?w) AS ?x) WHERE { ?s ex:w ?w }"),
    ];
    let mut answers = Vec::new();
    for (name, query) in queries {
        let text = format!("PREFIX ex: <http://example.org/> {query}");
        let parsed = parse_read_only(&text).unwrap();
        let plain_query = spargebra::SparqlParser::new().parse_query(&text).unwrap();
        let mut plain_best = Duration::MAX;
        let mut node_best = Duration::MAX;
        let mut node_answer = None;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            let QueryResults::Solutions(mut solutions) = SparqlEvaluator::new()
                .for_query(plain_query.clone())
                .on_store(node.store.oxigraph())
                .execute()
                .unwrap()
            else {
                panic!("not a SELECT")
            };
            let _ = solutions.next();
            plain_best = plain_best.min(start.elapsed());
            let start = std::time::Instant::now();
            let answer = node.store.evaluate(&parsed, &[], LIMITS).unwrap();
            node_best = node_best.min(start.elapsed());
            node_answer = Some(answer);
        }
        println!("{name:8} plain Oxigraph {plain_best:>10.2?}  node {node_best:>10.2?}");
        let Some(QueryAnswer::Solutions { rows, .. }) = node_answer else {
            panic!("not a SELECT")
        };
        answers.push(rows[0][0].clone().map(shown));
    }
    let some = |s: String| Some(s);
    // Σ i·0.25 = 0.25 · N(N−1)/2; Σ i·100; Σ i/36 with each quotient rounded at 18 digits
    // (by hand: i/36 has at most a repeating tail, rounding errors sum to under N·10⁻¹⁸, and
    // the exact sum N(N−1)/72 = 138,887,500 is a whole number, so the sum shows as
    // 138887499.99999999999999xxxx or 138887500.0000…: compared to 12 decimals below);
    // N · round18(0.236111111111111111²) = N · 0.055748456790123457.
    assert_eq!(answers[0], some(format!("{}^^decimal", N * (N - 1) / 8)));
    assert_eq!(
        answers[1],
        some(format!("{}^^integer", 100 * N * (N - 1) / 2))
    );
    let sum: f64 = answers[2]
        .as_deref()
        .unwrap()
        .trim_end_matches("^^decimal")
        .parse()
        .unwrap();
    assert!((sum - 138_887_500.0).abs() < 1e-6, "{sum}");
    assert_eq!(answers[3], some("5574.8456790123457^^decimal".to_owned()));
    assert_eq!(answers[4], some(format!("{N}^^integer")));
}
