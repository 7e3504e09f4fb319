//! Looking up, per solution, the triple patterns that join on a variable the left side may leave
//! unbound: `Join(L, R)` becomes `Lateral(…Lateral(L, r1)…, rn)` (SEP-0006 `LATERAL`, which
//! Oxigraph evaluates by running the right side once per solution of the left with that
//! solution's values written in).
//!
//! Why: the official questions turn dates into day numbers with
//! `?d ^time:inXSDDate/time:inTemporalPosition/time:numericPosition ?n` where `?d` is made by
//! `BIND`. The planner only keys joins on variables both sides always bind (see `scope.rs`), so
//! it scans the whole calendar for the path and joins it with everything else as a cross
//! product; two such lookups become days² pairs before anything is filtered.
//!
//! What moves: in a block of triples (a BGP, with spargebra's expansion of sequence paths into
//! triples over fresh blank nodes, and other paths joined to it), the triples that use such a
//! variable, then those connected to them through their other variables and blank nodes, one
//! at a time in that order, so each is an index lookup on what is already bound. Triples not
//! connected to them stay in an ordinary join, keyed by the variables the lookups bind.
//!
//! Why the answer cannot change, by the SPARQL 1.1 algebra (§18.5): `Join(Ω1, Ω2)` is every
//! `μ1 ∪ μ2` with `μ1 ∈ Ω1`, `μ2 ∈ Ω2` compatible, multiplicities multiplied, and it is
//! associative and commutative. For a triple pattern `t`, the solutions of `t` compatible with
//! `μ1` are exactly the solutions of `t` with `μ1`'s values written in for the variables `μ1`
//! binds, each as often; a variable `μ1` leaves unbound (a failed `BIND`) stays a variable, so
//! `μ1` meets every solution of `t`, as in the join. So `Lateral(L, t)` = `Join(L, t)`, and a
//! BGP is the join of its triples (a blank node acts as a variable of its BGP; the triples that
//! share one are always moved together). Nothing else of a join is moved: no `FILTER`,
//! `BIND`, `OPTIONAL` or sub-select changes scope. An `OPTIONAL` of such triples becomes a
//! lookup too, under the conditions of [`left_join`].
//!
//! Paths need care because Oxigraph evaluates a path whose two ends are both bound as a yes/no
//! test (one solution) and one with a free end by walking it, which for a negated property set
//! or a sequence gives one solution per way through; per solution, both ends may be bound where
//! the join had them free. So a path is only moved when every way of evaluating it gives each
//! pair of ends once: one step, an inverse, `+` (a transitive closure), or `|` (which Oxigraph
//! deduplicates). Zero-length paths (`*`, `?`) are never moved (a start term that is not in the
//! data behaves differently from one found by a scan); other paths stay in the ordinary join.

use std::collections::BTreeSet;

use oxigraph::model::Variable;
use spargebra::algebra::{Expression, GraphPattern, PropertyPathExpression};
use spargebra::term::{NamedNodePattern, TermPattern, TriplePattern};

use super::scope::{expression_variables, scope_of, Scope};

/// `Join(left, right)`, with the part of `right` that hangs off a variable `left` may leave
/// unbound looked up per solution of `left`.
pub(super) fn join(left: GraphPattern, right: GraphPattern) -> GraphPattern {
    let maybe: BTreeSet<String> = scope_of(&left).maybe().map(name_of).collect();
    if maybe.is_empty() || !is_triple_block(&right) {
        return plain(left, right);
    }
    let mut items = Vec::new();
    flatten(right.clone(), &mut items);
    let (lookups, rest) = split(items, &maybe);
    if lookups.is_empty() {
        return plain(left, right);
    }
    let looked_up = lookups.into_iter().fold(left, looked_up_below);
    match rest.into_iter().reduce(join_items) {
        Some(rest) => plain(looked_up, rest),
        None => looked_up,
    }
}

/// `Lateral(left, item)` for a triple or path `item`, with the lookup moved below the `BIND`s
/// and joins of `left` that it does not need, so it runs once per solution of the part that
/// binds its variables instead of once per solution of everything joined to that part.
///
/// Why: official 1.1 joins each agreement with 100 day offsets (`VALUES ?tiendetal`,
/// `VALUES ?eental`) and only then looks its dates up in the calendar, so every lookup ran 100
/// times. The same answer: `Lateral(L, t)` is `Join(L, t)` (above); a join is associative and
/// commutative, so `Join(Join(A, V), t)` is `Join(Join(A, t), V)`; and
/// `Join(Extend(P, ?x, e), t)` is `Extend(Join(P, t), ?x, e)` under the conditions of
/// `lift.rs`. A lookup only moves into the side of a join whose other side binds none of its
/// variables, and never past a side that makes fresh values (`RAND()`, `BNODE()`, …).
fn looked_up_below(left: GraphPattern, item: GraphPattern) -> GraphPattern {
    if let Some((inner, variable, expression)) = super::lift::bind_liftable(&left, &item) {
        return extend(looked_up_below(inner, item), variable, expression);
    }
    let names = names_in(&item);
    // A blank node the item shares with a side is bound there by an earlier item of its
    // sequence path (the calendar's `^time:inXSDDate/time:inTemporalPosition/…`), which
    // the item must follow.
    let apart = |side: &GraphPattern| {
        let possible = scope_of(side).possible;
        super::union::is_deterministic(side)
            && !possible.iter().any(|v| names.contains(&name_of(v)))
            && !blank_nodes_in(side).iter().any(|b| names.contains(b))
    };
    match left {
        GraphPattern::Join { left: a, right: v } if apart(&v) && !apart(&a) => {
            plain(looked_up_below(*a, item), *v)
        }
        GraphPattern::Join { left: v, right: a } if apart(&v) && !apart(&a) => {
            plain(*v, looked_up_below(*a, item))
        }
        other => lateral(other, item),
    }
}

/// `LeftJoin(left, right, expression)` (an `OPTIONAL`), evaluated per solution of `left` when
/// `right` is a block of triples that uses a variable `left` binds (in some solutions or in
/// all), possibly under `BIND`s of its own: `Lateral(left, LeftJoin({}, right, expression))`,
/// which Oxigraph runs as its for-loop left join (for each solution, the matches of `right`
/// that pass `expression`, or the solution alone when there are none; exactly the left join's
/// definition, §18.5).
///
/// Why also for a variable `left` always binds, where the planner could key a hash join: it
/// then reads the whole of `right`, planned from its own start as if nothing were bound, to
/// answer a few rows. The ledger questions (Zorgkantoren 18.x–24.x) look up, per ledger
/// heading (8 rows), its postings: hashed, every posting of the provider with its date and
/// amount was read (32,100 rows at 1,000 employees); looked up, only the heading's own. The
/// planner's own choice between the two (sparopt 0.3.9) compares products of estimates that
/// overflow for a block of four triples, so it never picks the lookup there. The lookup costs
/// at most an index read per solution of `left` and triple, which the hash join pays too for
/// each solution of `right`.
///
/// A `BIND` inside `right` sees only `right`'s own variables in the left join but would see the
/// outer solution's too in the lookup, so one is only allowed when every variable it reads is
/// one `right` always binds below it or one `left` never binds, it has no `EXISTS`, and its
/// variable is not one `left` binds.
pub(super) fn left_join(
    left: GraphPattern,
    right: GraphPattern,
    expression: Option<Expression>,
) -> GraphPattern {
    let scope = scope_of(&left);
    let keys: BTreeSet<String> = scope.possible.iter().map(name_of).collect();
    if !keys.is_empty() && is_optional_lookup(&right, &scope, &keys) {
        let optional = GraphPattern::LeftJoin {
            left: Box::new(GraphPattern::Bgp {
                patterns: Vec::new(),
            }),
            right: Box::new(right),
            expression,
        };
        return lateral(left, optional);
    }
    GraphPattern::LeftJoin {
        left: Box::new(left),
        right: Box::new(right),
        expression,
    }
}

/// Whether `pattern` is an `OPTIONAL`: a left join, or its lookup form made by [`left_join`].
pub(super) fn is_left_join(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::LeftJoin { .. } => true,
        GraphPattern::Lateral { right, .. } => matches!(
            right.as_ref(),
            GraphPattern::LeftJoin { left, .. }
                if matches!(left.as_ref(), GraphPattern::Bgp { patterns } if patterns.is_empty())
        ),
        _ => false,
    }
}

/// Whether `right` may be the lookup of [`left_join`]: lookup-safe triples (under `BIND`s that
/// see only their own side) of which one uses a variable of `keys`.
fn is_optional_lookup(right: &GraphPattern, left: &Scope, keys: &BTreeSet<String>) -> bool {
    match right {
        GraphPattern::Extend {
            inner,
            variable,
            expression,
        } => {
            let below = scope_of(inner);
            let reads_only_own = expression_variables(expression).is_some_and(|reads| {
                reads
                    .iter()
                    .all(|v| below.certain.contains(v) || !left.possible.contains(v))
            });
            reads_only_own
                && !left.possible.contains(variable)
                && is_optional_lookup(inner, left, keys)
        }
        block if is_triple_block(block) => {
            let mut items = Vec::new();
            flatten(block.clone(), &mut items);
            items.iter().all(is_lookup_safe)
                && items
                    .iter()
                    .any(|item| names_in(item).iter().any(|n| keys.contains(n)))
        }
        _ => false,
    }
}

/// `Join(left, right)`.
pub(super) fn plain(left: GraphPattern, right: GraphPattern) -> GraphPattern {
    GraphPattern::Join {
        left: Box::new(left),
        right: Box::new(right),
    }
}

/// `Extend(inner, ?variable, expression)`: a `BIND`.
pub(super) fn extend(
    inner: GraphPattern,
    variable: Variable,
    expression: Expression,
) -> GraphPattern {
    GraphPattern::Extend {
        inner: Box::new(inner),
        variable,
        expression,
    }
}

/// `Lateral(left, right)`: `right` evaluated per solution of `left`.
pub(super) fn lateral(left: GraphPattern, right: GraphPattern) -> GraphPattern {
    GraphPattern::Lateral {
        left: Box::new(left),
        right: Box::new(right),
    }
}

/// Two parts of a triple block joined again; neighbouring triples share one BGP.
fn join_items(left: GraphPattern, right: GraphPattern) -> GraphPattern {
    match (left, right) {
        (GraphPattern::Bgp { mut patterns }, GraphPattern::Bgp { patterns: more }) => {
            patterns.extend(more);
            GraphPattern::Bgp { patterns }
        }
        (left, right) => plain(left, right),
    }
}

/// A block of triples whose every path is lookup-safe: one that may be looked up per solution.
pub(super) fn is_lookup_block(pattern: &GraphPattern) -> bool {
    if !is_triple_block(pattern) {
        return false;
    }
    let mut items = Vec::new();
    flatten(pattern.clone(), &mut items);
    !items.is_empty() && items.iter().all(is_lookup_safe)
}

/// Triple patterns and paths joined together: what one block of triples in a group becomes.
pub(super) fn is_triple_block(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } => true,
        GraphPattern::Join { left, right } => is_triple_block(left) && is_triple_block(right),
        _ => false,
    }
}

/// The block's triples (each as a BGP of one) and paths, in order.
pub(super) fn flatten(block: GraphPattern, items: &mut Vec<GraphPattern>) {
    match block {
        GraphPattern::Join { left, right } => {
            flatten(*left, items);
            flatten(*right, items);
        }
        GraphPattern::Bgp { patterns } => items.extend(
            patterns
                .into_iter()
                .map(|t| GraphPattern::Bgp { patterns: vec![t] }),
        ),
        other => items.push(other),
    }
}

/// The items to look up, in lookup order (those using a `maybe` variable, then those sharing a
/// variable or blank node with an item already taken), and the others in their first order.
/// Paths that are not [`is_set_valued`] always stay with the others.
fn split(
    items: Vec<GraphPattern>,
    maybe: &BTreeSet<String>,
) -> (Vec<GraphPattern>, Vec<GraphPattern>) {
    let names: Vec<Vec<String>> = items.iter().map(names_in).collect();
    let safe: Vec<bool> = items.iter().map(is_lookup_safe).collect();
    let mut order: Vec<usize> = (0..items.len())
        .filter(|&i| safe[i] && names[i].iter().any(|name| maybe.contains(name)))
        .collect();
    let mut reached: BTreeSet<&String> = order.iter().flat_map(|&i| &names[i]).collect();
    loop {
        let before = order.len();
        for i in 0..items.len() {
            let connected = names[i].iter().any(|name| reached.contains(name));
            if safe[i] && connected && !order.contains(&i) {
                order.push(i);
                reached.extend(&names[i]);
            }
        }
        if order.len() == before {
            break;
        }
    }
    let mut slots: Vec<Option<GraphPattern>> = items.into_iter().map(Some).collect();
    let lookups = order.iter().filter_map(|&i| slots[i].take()).collect();
    let rest = slots.into_iter().flatten().collect();
    (lookups, rest)
}

/// The variables (`?v`) and blank nodes (`_:b`) of a triple or path item.
pub(super) fn names_in(item: &GraphPattern) -> Vec<String> {
    let term = |t: &TermPattern| match t {
        TermPattern::Variable(_) | TermPattern::BlankNode(_) => Some(t.to_string()),
        _ => None,
    };
    match item {
        GraphPattern::Bgp { patterns } => patterns
            .iter()
            .flat_map(|t: &TriplePattern| {
                let predicate = match &t.predicate {
                    NamedNodePattern::Variable(v) => Some(name_of(v)),
                    NamedNodePattern::NamedNode(_) => None,
                };
                [term(&t.subject), predicate, term(&t.object)]
            })
            .flatten()
            .collect(),
        GraphPattern::Path {
            subject, object, ..
        } => [term(subject), term(object)]
            .into_iter()
            .flatten()
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `pattern`, evaluated with values written in for some of `variables` (a solution of
/// the left side of a `Lateral`), gives exactly its own solutions compatible with those values.
///
/// True for triples and set-valued paths (see the module documentation), for a path that may
/// have length zero when neither end is one of `variables`, and for joins, lookups and unions
/// of such; for a `BIND` or `FILTER` over one when it reads none of `variables` that its inner
/// pattern does not bind in every solution (it sees the same value either way), its `BIND`
/// variable is none of them, and it makes no fresh values; for a sub-select that projects
/// every one of `variables` it binds. Anything else (an `OPTIONAL`, `MINUS`, a table, an
/// aggregate) is not claimed.
pub(super) fn looks_up_as_joined(pattern: &GraphPattern, variables: &BTreeSet<Variable>) -> bool {
    use GraphPattern as P;
    let reads_safely = |expression: &Expression, inner: &GraphPattern| {
        let certain = scope_of(inner).certain;
        expression_variables(expression).is_some_and(|reads| {
            reads
                .iter()
                .all(|v| !variables.contains(v) || certain.contains(v))
        })
    };
    match pattern {
        P::Bgp { .. } => true,
        P::Path {
            subject,
            path,
            object,
        } => {
            is_set_valued(path)
                || [subject, object].into_iter().all(|end| {
                    super::scope::term_variable(end).is_none_or(|v| !variables.contains(v))
                })
        }
        P::Join { left, right } | P::Lateral { left, right } | P::Union { left, right } => {
            looks_up_as_joined(left, variables) && looks_up_as_joined(right, variables)
        }
        P::Extend {
            inner,
            variable,
            expression,
        } => {
            !variables.contains(variable)
                && reads_safely(expression, inner)
                && looks_up_as_joined(inner, variables)
        }
        P::Filter { expr, inner } => {
            reads_safely(expr, inner) && looks_up_as_joined(inner, variables)
        }
        P::Project {
            inner,
            variables: projected,
        } => {
            scope_of(inner)
                .possible
                .iter()
                .all(|v| !variables.contains(v) || projected.contains(v))
                && looks_up_as_joined(inner, variables)
        }
        _ => false,
    }
}

/// The blank nodes (`_:b`) of the triples and paths anywhere in `pattern`.
pub(super) fn blank_nodes_in(pattern: &GraphPattern) -> BTreeSet<String> {
    struct Blanks(BTreeSet<String>);
    impl super::pattern::BottomUp for Blanks {
        fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
            if matches!(
                pattern,
                GraphPattern::Bgp { .. } | GraphPattern::Path { .. }
            ) {
                let names = names_in(&pattern);
                self.0
                    .extend(names.into_iter().filter(|name| name.starts_with("_:")));
            }
            pattern
        }
    }
    let mut blanks = Blanks(BTreeSet::new());
    super::pattern::visit(pattern, &mut blanks);
    blanks.0
}

fn name_of(variable: &Variable) -> String {
    variable.to_string()
}

/// A triple, or a path that gives each pair of ends once however it is evaluated.
fn is_lookup_safe(item: &GraphPattern) -> bool {
    match item {
        GraphPattern::Path { path, .. } => is_set_valued(path),
        _ => true,
    }
}

/// Paths whose solutions Oxigraph gives without duplicates however their ends are bound, and
/// that cannot have length zero: one predicate, its inverse, `+`, and `|`.
pub(super) fn is_set_valued(path: &PropertyPathExpression) -> bool {
    use PropertyPathExpression as E;
    match path {
        E::NamedNode(_) => true,
        E::Reverse(p) => is_set_valued(p),
        E::OneOrMore(p) => without_zero_length_part(p),
        E::Alternative(a, b) => without_zero_length_part(a) && without_zero_length_part(b),
        E::Sequence(_, _) | E::NegatedPropertySet(_) | E::ZeroOrMore(_) | E::ZeroOrOne(_) => false,
    }
}

/// Whether no part of `path` can be passed with zero steps (`*`, `?`).
fn without_zero_length_part(path: &PropertyPathExpression) -> bool {
    use PropertyPathExpression as E;
    match path {
        E::NamedNode(_) | E::NegatedPropertySet(_) => true,
        E::Reverse(p) | E::OneOrMore(p) => without_zero_length_part(p),
        E::Sequence(a, b) | E::Alternative(a, b) => {
            without_zero_length_part(a) && without_zero_length_part(b)
        }
        E::ZeroOrMore(_) | E::ZeroOrOne(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};
    use oxigraph::store::Store;
    use spargebra::algebra::GraphPattern;
    use spargebra::Query;

    use crate::test_support::{parse, rows};

    const EX: &str = "http://example.org/";

    /// Two headings, one with two postings (one of them too late), one with none; a third
    /// posting of another heading.
    fn ledger() -> Store {
        let iri = |name: &str| NamedNode::new_unchecked(format!("{EX}{name}"));
        let date = |d: &str| Literal::new_typed_literal(d, oxigraph::model::vocab::xsd::DATE);
        let store = Store::new().unwrap();
        let quads: [(NamedNode, NamedNode, Term); 8] = [
            (iri("h1"), iri("type"), iri("Heading").into()),
            (iri("h2"), iri("type"), iri("Heading").into()),
            (iri("p1"), iri("partOf"), iri("h1").into()),
            (iri("p1"), iri("date"), date("2024-01-01").into()),
            (iri("p2"), iri("partOf"), iri("h1").into()),
            (iri("p2"), iri("date"), date("2026-01-01").into()),
            (iri("p3"), iri("partOf"), iri("h3").into()),
            (iri("p3"), iri("date"), date("2024-01-01").into()),
        ];
        for (s, p, o) in quads {
            store
                .insert(&Quad::new(s, p, o, GraphName::DefaultGraph))
                .unwrap();
        }
        store
    }

    /// The `OPTIONAL` under the projection of `query`, and what is left of it.
    fn optional_of(query: &Query) -> &GraphPattern {
        let Query::Select { pattern, .. } = query else {
            panic!("not a SELECT");
        };
        let GraphPattern::Project { inner, .. } = pattern else {
            panic!("no projection: {pattern:?}");
        };
        inner
    }

    #[test]
    fn an_optional_keyed_on_a_variable_always_bound_is_looked_up_per_solution() {
        let text = "SELECT ?h ?p ?d WHERE { \
                    ?h <http://example.org/type> <http://example.org/Heading> . \
                    OPTIONAL { ?p <http://example.org/partOf> ?h ; \
                                  <http://example.org/date> ?d . \
                               FILTER(?d <= \"2025-01-01\"^^xsd:date) } }";
        let parsed = parse(text);
        let rewritten = crate::key_joins(parsed.clone());
        // The OPTIONAL became a for-loop left join: Lateral(left, LeftJoin({}, triples, filter)).
        match optional_of(&rewritten) {
            GraphPattern::Lateral { left, right } => {
                assert!(
                    matches!(left.as_ref(), GraphPattern::Bgp { .. }),
                    "{left:?}"
                );
                let GraphPattern::LeftJoin {
                    left: empty,
                    expression,
                    ..
                } = right.as_ref()
                else {
                    panic!("not a left join: {right:?}");
                };
                assert!(
                    matches!(empty.as_ref(), GraphPattern::Bgp { patterns } if patterns.is_empty())
                );
                assert!(expression.is_some(), "the OPTIONAL's FILTER was lost");
            }
            other => panic!("not looked up: {other:?}"),
        }
        // The same solutions as the query as written: h1 with its early posting, h2 alone.
        let store = ledger();
        let expected = rows(&store, parsed, false);
        assert_eq!(
            expected,
            vec![
                format!("?h=<{EX}h1> ?p=<{EX}p1> ?d=\"2024-01-01\"^^<http://www.w3.org/2001/XMLSchema#date> "),
                format!("?h=<{EX}h2> "),
            ]
        );
        assert_eq!(rows(&store, rewritten.clone(), false), expected);
        assert_eq!(rows(&store, rewritten, true), expected);
    }

    #[test]
    fn an_optional_sharing_no_variable_with_its_left_side_stays_a_left_join() {
        let text = "SELECT ?h ?p WHERE { \
                    ?h <http://example.org/type> <http://example.org/Heading> . \
                    OPTIONAL { ?p <http://example.org/date> ?d } }";
        let rewritten = crate::key_joins(parse(text));
        assert!(
            matches!(optional_of(&rewritten), GraphPattern::LeftJoin { .. }),
            "{rewritten:?}"
        );
    }

    #[test]
    fn a_block_joined_with_a_distinct_sub_select_is_looked_up_per_row_of_it() {
        let text = "SELECT ?p ?d WHERE { \
                    { SELECT DISTINCT ?p WHERE { \
                        VALUES ?h { <http://example.org/h1> <http://example.org/h2> } \
                        ?p <http://example.org/partOf> ?h } } \
                    ?p <http://example.org/date> ?d }";
        let rewritten = rewritten_alike(text, 2);
        let GraphPattern::Lateral { left, right } = optional_of(&rewritten) else {
            panic!("not looked up: {rewritten:?}");
        };
        assert!(
            matches!(left.as_ref(), GraphPattern::Distinct { .. }),
            "the sub-select is not evaluated first: {left:?}"
        );
        assert!(
            matches!(right.as_ref(), GraphPattern::Bgp { .. }),
            "{right:?}"
        );
    }

    /// `ledger()` with a calendar: day nodes with a date and a day number.
    fn ledger_with_calendar() -> Store {
        let store = ledger();
        let iri = |name: &str| NamedNode::new_unchecked(format!("{EX}{name}"));
        let date = |d: &str| Literal::new_typed_literal(d, oxigraph::model::vocab::xsd::DATE);
        for (day, d, n) in [("c1", "2024-01-01", 1), ("c2", "2026-01-01", 2)] {
            for (p, o) in [
                ("inDate", Term::from(date(d))),
                ("number", Term::from(Literal::from(n))),
            ] {
                store
                    .insert(&Quad::new(iri(day), iri(p), o, GraphName::DefaultGraph))
                    .unwrap();
            }
        }
        store
    }

    /// Text without white space.
    fn compact(query: &Query) -> String {
        query.to_string().split_whitespace().collect()
    }

    #[test]
    fn a_sequence_path_is_looked_up_whole_before_a_table_that_multiplies_the_rows() {
        // Official 1.1 looked up the first step of `^inDate/number` per agreement and the
        // second per agreement and day offset.
        let text = "SELECT ?p ?k ?n WHERE { \
                    ?p <http://example.org/date> ?d . BIND(xsd:date(?d) AS ?e) \
                    VALUES ?k { 1 2 3 } \
                    ?e ^<http://example.org/inDate>/<http://example.org/number> ?n }";
        let rewritten = rewritten_alike_on(&ledger_with_calendar(), text, 9);
        // The path's second step does not wait for the table.
        assert_before(
            &compact(&rewritten),
            "<http://example.org/number>",
            "VALUES",
        );
    }

    #[test]
    fn a_filter_runs_before_a_table_it_does_not_read() {
        let text = "SELECT ?p ?k WHERE { \
                    ?p <http://example.org/date> ?d . BIND(?d AS ?e) \
                    VALUES ?k { 1 2 3 } \
                    FILTER(?e < \"2025-01-01\"^^xsd:date) }";
        let parsed = parse(text);
        let rewritten = crate::key_joins(parsed.clone());
        let shown = compact(&rewritten);
        let (filter, table) = (shown.find("FILTER").unwrap(), shown.find("VALUES").unwrap());
        assert!(filter < table, "filtered after the product: {shown}");
        let store = ledger();
        let expected = rows(&store, parsed, false);
        assert_eq!(expected.len(), 6, "{expected:?}");
        assert_eq!(rows(&store, rewritten, true), expected);
    }

    /// `text` rewritten, with the same solutions as written (`rows_expected` of them) on
    /// `ledger()`.
    fn rewritten_alike(text: &str, rows_expected: usize) -> Query {
        rewritten_alike_on(&ledger(), text, rows_expected)
    }

    /// [`rewritten_alike`] on `store`.
    fn rewritten_alike_on(store: &Store, text: &str, rows_expected: usize) -> Query {
        let parsed = parse(text);
        let rewritten = crate::key_joins(parsed.clone());
        let expected = rows(store, parsed, false);
        assert_eq!(expected.len(), rows_expected, "{expected:?}");
        assert_eq!(rows(store, rewritten.clone(), false), expected);
        assert_eq!(rows(store, rewritten.clone(), true), expected);
        rewritten
    }

    /// [`rewritten_alike`], and whether its projection's pattern is a lookup.
    fn looked_up(text: &str, rows_expected: usize) -> bool {
        let rewritten = rewritten_alike(text, rows_expected);
        matches!(optional_of(&rewritten), GraphPattern::Lateral { .. })
    }

    #[test]
    fn a_union_joined_with_an_aggregate_is_looked_up_per_row_of_it() {
        // Per heading its number of postings, then the heading's own row or the total.
        let text = "SELECT ?h ?n ?name WHERE { \
                    { SELECT ?h (COUNT(?p) AS ?n) WHERE { ?p <http://example.org/partOf> ?h } \
                      GROUP BY ?h } \
                    { ?h <http://example.org/type> <http://example.org/Heading> \
                      BIND(\"own\" AS ?name) } \
                    UNION { BIND(\"all\" AS ?name) } }";
        assert!(looked_up(text, 3), "the aggregate is not run once");
    }

    #[test]
    fn a_block_joined_with_an_aggregate_with_having_is_looked_up_per_row_of_it() {
        // NZa Wmg 1.1.x keep the agreements whose MAX is 0 and read only their sizes.
        let text = "SELECT ?h ?t WHERE { \
                    { SELECT ?h WHERE { ?p <http://example.org/partOf> ?h } \
                      GROUP BY ?h HAVING (COUNT(?p) > 1) } \
                    ?h <http://example.org/type> ?t }";
        assert!(looked_up(text, 1), "the block is hash-joined whole");
    }

    #[test]
    fn a_union_whose_bind_reads_the_aggregate_is_not_looked_up() {
        // Inside the branch `?n` is unbound, so `?m` is too; written in, it would be bound.
        let text = "SELECT ?h ?m WHERE { \
                    { SELECT ?h (COUNT(?p) AS ?n) WHERE { ?p <http://example.org/partOf> ?h } \
                      GROUP BY ?h } \
                    { ?h <http://example.org/type> <http://example.org/Heading> \
                      BIND(?n AS ?m) } \
                    UNION { BIND(\"all\" AS ?name) } }";
        assert!(!looked_up(text, 3));
    }

    #[test]
    fn a_union_with_a_zero_length_path_from_the_aggregate_is_not_looked_up() {
        // `?k` is no node of the data: `?k partOf* ?x` never meets it, but written in it
        // would give `?k` itself.
        let text = "SELECT ?k ?x ?t WHERE { \
                    { SELECT ?k (COUNT(*) AS ?n) WHERE { ?p <http://example.org/partOf> ?h \
                        BIND(<http://example.org/elsewhere> AS ?k) } GROUP BY ?k } \
                    { ?k <http://example.org/partOf>* ?x } UNION { BIND(1 AS ?t) } }";
        assert!(!looked_up(text, 1));
    }

    /// Asserts that `first` occurs in `shown` before `then`.
    fn assert_before(shown: &str, first: &str, then: &str) {
        let (a, b) = (shown.find(first).unwrap(), shown.find(then).unwrap());
        assert!(a < b, "{first} not before {then}: {shown}");
    }

    /// [`rewritten_alike`] as text without white space.
    fn same_rows(text: &str, rows_expected: usize) -> String {
        compact(&rewritten_alike(text, rows_expected))
    }

    #[test]
    fn a_comparison_with_a_constant_bind_reads_its_expression() {
        // The ledger questions' period: the filter no longer waits for the BIND.
        let shown = same_rows(
            "SELECT ?p WHERE { BIND(xsd:date(\"2025-01-01\") AS ?start) \
             ?p <http://example.org/date> ?d . FILTER(?d >= ?start) }",
            1,
        );
        assert!(!shown.contains(">=?start"), "{shown}");
    }

    #[test]
    fn a_constant_bind_in_the_sub_select_an_optional_became_is_written_in_too() {
        // The OPTIONAL joined with more triples is evaluated as a sub-select (`joins.rs`),
        // the BIND with it.
        let shown = same_rows(
            "SELECT ?p WHERE { BIND(xsd:date(\"2025-01-01\") AS ?start) \
             ?p <http://example.org/date> ?d . OPTIONAL { ?p <http://example.org/partOf> ?h } \
             ?p <http://example.org/date> ?d2 . FILTER(?d2 >= ?start) }",
            1,
        );
        assert!(shown.contains("{SELECT"), "no sub-select: {shown}");
        assert!(!shown.contains(">=?start"), "{shown}");
    }

    #[test]
    fn a_constant_bind_whose_variable_a_triple_may_bind_stays_a_variable() {
        // The BIND fails, the OPTIONAL binds ?start to a heading, and `!=` between a heading
        // and a date is true; with the failing expression written in it would be an error.
        let shown = same_rows(
            "SELECT ?p WHERE { BIND(xsd:date(\"nope\") AS ?start) \
             ?p <http://example.org/date> ?d . \
             OPTIONAL { ?p <http://example.org/partOf> ?start } FILTER(?start != ?d) }",
            3,
        );
        assert!(shown.contains("?start"), "{shown}");
    }

    #[test]
    fn a_constant_bind_inside_an_optional_is_not_written_into_the_filter() {
        // No posting has a type: ?start is never bound and the filter keeps nothing.
        let shown = same_rows(
            "SELECT ?p WHERE { ?p <http://example.org/date> ?d . \
             OPTIONAL { ?p <http://example.org/type> ?t \
                        BIND(xsd:date(\"2025-01-01\") AS ?start) } \
             FILTER(?d >= ?start) }",
            0,
        );
        assert!(shown.contains(">=?start"), "{shown}");
    }

    #[test]
    fn a_bind_computed_from_a_constant_bind_is_written_into_the_comparison_too() {
        // Official 6.1's end of the quarter is its start plus a duration.
        let shown = same_rows(
            "SELECT ?p WHERE { BIND(2025 AS ?year) BIND(?year + 1 AS ?next) \
             ?p <http://example.org/date> ?d . FILTER(YEAR(?d) < ?next) }",
            2,
        );
        assert!(!shown.contains("<?next"), "{shown}");
    }

    #[test]
    fn a_comparison_with_a_constant_reads_the_expression_of_a_bind_of_a_triple() {
        // Official 6.1 compares the date of each worked period's time stamp with the quarter;
        // written in, the comparison runs before the BIND and the lookups after it.
        let shown = same_rows(
            "SELECT ?p ?h WHERE { ?p <http://example.org/date> ?d . \
             OPTIONAL { ?p <http://example.org/partOf> ?h } \
             BIND(STR(?d) AS ?day) FILTER(?day < \"2025\") }",
            2,
        );
        assert!(!shown.contains("?day<"), "{shown}");
        assert_before(&shown, "FILTER", "OPTIONAL");
    }

    #[test]
    fn a_bind_reading_what_it_may_not_see_bound_is_not_written_in() {
        // The BIND runs before ?h is bound and fails, so the filter keeps nothing; written in,
        // STR(?h) would read the heading the triple binds and keep p1 and p2.
        let shown = same_rows(
            "SELECT ?p WHERE { { BIND(STR(?h) AS ?code) } \
             ?p <http://example.org/partOf> ?h FILTER(?code = \"http://example.org/h1\") }",
            0,
        );
        assert!(shown.contains("?code="), "{shown}");
    }

    #[test]
    fn a_filter_on_binds_of_the_left_side_runs_before_the_lookup() {
        // Official 23.3 looked up every posting of every account before keeping the accounts
        // whose code BIND gives the category asked for.
        let shown = same_rows(
            "SELECT ?p ?d WHERE { \
             { SELECT DISTINCT ?h WHERE { ?h <http://example.org/type> ?t } } \
             BIND(STRAFTER(STR(?h), \"example.org/\") AS ?code) \
             BIND(IF(?code = \"h1\", \"kept\", \"other\") AS ?category) \
             FILTER(?category != \"other\") \
             ?p <http://example.org/partOf> ?h ; <http://example.org/date> ?d }",
            2,
        );
        assert_before(&shown, "FILTER", "LATERAL");
    }

    #[test]
    fn a_bind_whose_variable_the_lookup_reads_stays_above_it() {
        // The lookup sees ?code unbound and keeps every posting; with the BIND moved into its
        // left side it would see ?code bound and keep none.
        let shown = same_rows(
            "SELECT ?p WHERE { { { SELECT DISTINCT ?h WHERE { ?h <http://example.org/type> ?t } } \
             LATERAL { ?p <http://example.org/partOf> ?h FILTER(!BOUND(?code)) } } \
             BIND(STR(?h) AS ?code) FILTER(?code != \"\") }",
            2,
        );
        assert_before(&shown, "LATERAL", "BIND");
    }

    #[test]
    fn a_bind_reading_what_the_lookup_binds_stays_above_it() {
        // In the left side ?p is unbound and the BIND fails: the filter would keep nothing.
        let shown = same_rows(
            "SELECT ?p WHERE { { { SELECT DISTINCT ?h WHERE { ?h <http://example.org/type> ?t } } \
             LATERAL { ?p <http://example.org/partOf> ?h } } \
             BIND(STR(?p) AS ?code) FILTER(?code != \"\") }",
            2,
        );
        assert_before(&shown, "LATERAL", "BIND");
    }

    #[test]
    fn a_triple_whose_object_is_compared_with_a_constant_is_read_next() {
        // The ledger questions write `partOf` before `hasDate`; the planner takes the first
        // written of equals, so every posting was taken to its accounts before the date filter.
        let shown = same_rows(
            "SELECT ?p ?h WHERE { ?p <http://example.org/date> ?any ; \
             <http://example.org/partOf> ?h ; <http://example.org/date> ?d . \
             FILTER(?d < \"2025-01-01\"^^xsd:date) }",
            2,
        );
        assert_before(
            &shown,
            "<http://example.org/date>?d.",
            "<http://example.org/partOf>?h",
        );
    }

    #[test]
    fn a_total_row_is_keyed_on_a_required_triple_instead_of_distributed() {
        // The official questions' "Organisatie" row: the shared part is evaluated once.
        let shown = same_rows(
            "SELECT ?p ?h ?name WHERE { ?h <http://example.org/type> <http://example.org/Heading> . \
             ?p <http://example.org/partOf> ?h . \
             { ?h <http://example.org/type> ?t BIND(\"own\" AS ?name) } \
             UNION { BIND(\"all\" AS ?name) } }",
            4,
        );
        assert_eq!(
            shown.matches("<http://example.org/partOf>").count(),
            1,
            "the shared part is evaluated per branch: {shown}"
        );
        assert!(shown.contains("DISTINCT"), "{shown}");
    }

    #[test]
    fn a_total_row_is_not_keyed_on_a_triple_of_an_optional() {
        // h3 is no heading: keyed on the OPTIONAL's triple, p3 would lose its total row.
        let shown = same_rows(
            "SELECT ?p ?h ?name WHERE { ?p <http://example.org/partOf> ?h . \
             OPTIONAL { ?h <http://example.org/type> <http://example.org/Heading> } \
             { ?h <http://example.org/type> ?t BIND(\"own\" AS ?name) } \
             UNION { BIND(\"all\" AS ?name) } }",
            5,
        );
        assert!(!shown.contains("DISTINCT"), "{shown}");
    }

    #[test]
    fn a_block_joined_with_a_plain_sub_select_stays_a_join() {
        // Not deduplicated: the planner's hash join stays (a sub-select of every row could be
        // as large as the block).
        let text = "SELECT ?p ?d WHERE { \
                    { SELECT ?p WHERE { ?p <http://example.org/partOf> ?h } } \
                    ?p <http://example.org/date> ?d }";
        let rewritten = crate::key_joins(parse(text));
        assert!(
            matches!(optional_of(&rewritten), GraphPattern::Join { .. }),
            "{rewritten:?}"
        );
    }

    /// The text of the sub-select the `OPTIONAL` of `text` became (`joins.rs`), after checking
    /// its rows (`rows_expected`) as [`same_rows`] does.
    fn inside_the_optional(text: &str, rows_expected: usize) -> String {
        let shown = same_rows(text, rows_expected);
        let start = shown
            .find("{SELECT")
            .unwrap_or_else(|| panic!("no sub-select: {shown}"));
        let mut depth = 0;
        let end = shown[start..]
            .char_indices()
            .find_map(|(i, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                (depth == 0).then_some(start + i + 1)
            })
            .unwrap_or(shown.len());
        shown[start..end].to_string()
    }

    #[test]
    fn a_block_the_optional_and_its_left_side_do_not_meet_stays_beside_it() {
        // IGJ 1.1.1: the vestiging asked for is written before the indications and their
        // optional end date; inside the OPTIONAL it was joined with every indication.
        let inside = inside_the_optional(
            "SELECT ?h ?p ?d ?e WHERE { ?h <http://example.org/type> <http://example.org/Heading> . \
             ?p <http://example.org/partOf> ?x . OPTIONAL { ?p <http://example.org/date> ?d } \
             ?p <http://example.org/date> ?e }",
            6,
        );
        assert!(!inside.contains("Heading"), "{inside}");
    }

    #[test]
    fn a_block_the_left_side_of_the_optional_meets_stays_inside() {
        let inside = inside_the_optional(
            "SELECT ?h ?p ?d ?e WHERE { ?h <http://example.org/type> <http://example.org/Heading> . \
             ?p <http://example.org/partOf> ?h . OPTIONAL { ?p <http://example.org/date> ?d } \
             ?p <http://example.org/date> ?e }",
            2,
        );
        assert!(inside.contains("Heading"), "{inside}");
    }

    #[test]
    fn a_path_joined_to_the_left_side_by_a_blank_node_stays_inside() {
        // The second step of a sequence path meets the first through the blank node
        // spargebra writes between them (ZK 14.2's location then its vestiging).
        let inside = inside_the_optional(
            "SELECT ?p ?x ?d ?e WHERE { ?p <http://example.org/partOf>/<http://example.org/type>* ?x . \
             OPTIONAL { ?p <http://example.org/date> ?d } ?p <http://example.org/date> ?e }",
            5,
        );
        assert!(inside.contains("type>)*"), "{inside}");
    }

    #[test]
    fn a_block_the_optional_reads_stays_inside() {
        let inside = inside_the_optional(
            "SELECT ?h ?p ?d ?e WHERE { ?h <http://example.org/type> <http://example.org/Heading> . \
             ?p <http://example.org/partOf> ?x . \
             OPTIONAL { ?p <http://example.org/date> ?d FILTER(?h != ?p) } \
             ?p <http://example.org/date> ?e }",
            6,
        );
        assert!(inside.contains("Heading"), "{inside}");
    }

    const DATE_2024: &str = "\"2024-01-01\"^^<http://www.w3.org/2001/XMLSchema#date>";

    #[test]
    fn a_one_triple_optional_is_looked_up_after_a_block_a_literal_anchors() {
        // IGJ 1.2.1: every agreement with its optional end date was hash-joined with the
        // locations of the one vestiging asked for (`optional_after_join`, lift.rs).
        let shown = same_rows(
            &format!(
                "SELECT ?p ?h ?t WHERE {{ ?p <http://example.org/partOf> ?h . \
                 OPTIONAL {{ ?h <http://example.org/type> ?t }} \
                 ?p <http://example.org/date> {DATE_2024} }}"
            ),
            2,
        );
        assert!(!shown.contains("{SELECT"), "{shown}");
        assert_before(&shown, "2024-01-01", "OPTIONAL");
    }

    #[test]
    fn a_one_triple_optional_is_looked_up_after_a_test_of_what_the_left_side_binds() {
        // NZa Wmg 2.1: `?client a Human`, written after the indication's optional end date,
        // was hash-joined with every client; it only tests the client the indication names.
        let shown = same_rows(
            "SELECT ?p ?h ?t WHERE { ?p <http://example.org/partOf> ?h . \
             OPTIONAL { ?p <http://example.org/date> ?t } \
             ?h <http://example.org/type> <http://example.org/Heading> }",
            2,
        );
        assert!(!shown.contains("{SELECT"), "{shown}");
        assert_before(&shown, "Heading", "OPTIONAL");
    }

    #[test]
    fn an_optional_joined_with_a_block_no_literal_anchors_stays_whole() {
        let shown = same_rows(
            "SELECT ?p ?h ?t ?d WHERE { ?p <http://example.org/partOf> ?h . \
             OPTIONAL { ?h <http://example.org/type> ?t } ?p <http://example.org/date> ?d }",
            3,
        );
        assert!(shown.contains("{SELECT"), "{shown}");
    }

    #[test]
    fn an_optional_whose_variable_the_block_may_bind_stays_whole() {
        // `?t` is unbound where the heading has no type: the block's `?t` joins the row
        // written before the OPTIONAL, and looked up after it would filter it out.
        let shown = same_rows(
            &format!(
                "SELECT * WHERE {{ ?p <http://example.org/partOf> ?h . \
                 OPTIONAL {{ ?h <http://example.org/type> ?t }} \
                 ?p <http://example.org/date> {DATE_2024} . ?t ?x ?y }}"
            ),
            8,
        );
        assert!(shown.contains("{SELECT"), "{shown}");
    }

    #[test]
    fn an_optional_of_two_triples_stays_whole() {
        let shown = same_rows(
            &format!(
                "SELECT ?p ?h ?t ?o WHERE {{ ?p <http://example.org/partOf> ?h . \
                 OPTIONAL {{ ?h <http://example.org/type> ?t . ?o <http://example.org/partOf> ?h }} \
                 ?p <http://example.org/date> {DATE_2024} }}"
            ),
            3,
        );
        assert!(shown.contains("{SELECT"), "{shown}");
    }
}
