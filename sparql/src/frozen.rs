//! A graph frozen in memory for the evaluator: every term numbered once, the triples kept in
//! three sorted orders of numbers (subject-predicate-object, predicate-object-subject,
//! object-subject-predicate), each grouped by its first term (where a term's group starts is
//! one array read), so that every triple pattern is one contiguous slice found by at most two
//! binary searches within a group, and the counts the join order asks for are exact and cost
//! the same.
//!
//! Why not Oxigraph's in-memory store: it is built to be written to (every triple a node in
//! linked lists with a version range), so a pattern walks the shortest list that holds its
//! constants and filters it triple by triple, and its terms are decoded through concurrent hash
//! maps; on the official questions that walking, filtering and decoding was about a third of the
//! node's time. A served graph changes only when the registry does, and is then rebuilt whole.
//!
//! Terms the evaluator computes (`BIND`, aggregates) that the graph does not hold are kept
//! beside it for the query's life ([`FrozenTerm::Computed`]); a computed term that the graph
//! does hold gets the graph's number, so that equal terms are always equal numbers. An
//! evaluation reads the graph through a [`FrozenView`], which keeps the numbers and dates it
//! has computed, so that a value many solutions share is written out and looked up once.

use std::cell::RefCell;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use oxigraph::model::{NamedNode, Term};
use rustc_hash::FxHashMap;
use spareval::{ExpressionTerm, InternalQuad, QueryableDataset};

use crate::Statistics;

/// A term as the evaluator holds it while it answers on a [`FrozenGraph`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum FrozenTerm {
    /// A term of the graph, by its number.
    Stored(u32),
    /// A term the graph does not hold: a query's constant or a value it computed.
    Computed(Arc<Computed>),
}

/// A term the graph does not hold, with its value for expressions (parsed once).
pub struct Computed {
    term: Term,
    value: ExpressionTerm,
}

// Equality and hash are the term's (`sameTerm`), as the evaluator requires.
impl PartialEq for Computed {
    fn eq(&self, other: &Self) -> bool {
        self.term == other.term
    }
}

impl Eq for Computed {}

impl Hash for Computed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.term.hash(state);
    }
}

/// The triples of one graph, sorted three ways, over numbered terms.
pub struct FrozenGraph {
    /// Term by number.
    terms: Vec<Term>,
    /// Each term's value for expressions, by number (literals parsed once, not per row).
    values: Vec<ExpressionTerm>,
    /// Number by term.
    numbers: FxHashMap<Term, u32>,
    /// Subject, predicate, object.
    spo: Index,
    /// Predicate, object, subject.
    pos: Index,
    /// Object, subject, predicate.
    osp: Index,
    /// Per predicate: its number, distinct subjects and distinct objects (by the IRI, which
    /// the join order asks with).
    predicates: FxHashMap<NamedNode, Predicate>,
}

/// A predicate's number and counts.
struct Predicate {
    number: u32,
    subjects: usize,
    objects: usize,
}

/// Why a graph was not frozen.
#[derive(Debug, thiserror::Error)]
pub enum FreezeError<E: std::error::Error + 'static> {
    /// Reading the triples failed.
    #[error(transparent)]
    Source(E),
    /// More distinct terms or triples than a number of 32 bits counts (far beyond what fits
    /// in memory).
    #[error(
        "a graph frozen in memory holds at most {} distinct terms and triples",
        u32::MAX
    )]
    TooLarge,
}

/// Which order an index keeps: where subject, predicate and object sit in its rows.
#[derive(Clone, Copy)]
enum Order {
    Spo,
    Pos,
    Osp,
}

impl Order {
    fn row(self, [s, p, o]: [u32; 3]) -> [u32; 3] {
        match self {
            Self::Spo => [s, p, o],
            Self::Pos => [p, o, s],
            Self::Osp => [o, s, p],
        }
    }

    fn triple(self, row: [u32; 3]) -> [u32; 3] {
        match self {
            Self::Spo => row,
            Self::Pos => [row[2], row[0], row[1]],
            Self::Osp => [row[1], row[2], row[0]],
        }
    }
}

/// The triples in one order, sorted and grouped by their first term: the group of term `t` is
/// `rest[starts[t]..starts[t + 1]]`, each row's second and third term packed in one number
/// (the second in the high half), so that a row compares as one integer.
struct Index {
    order: Order,
    starts: Vec<u32>,
    rest: Vec<u64>,
}

fn pack(second: u32, third: u32) -> u64 {
    (u64::from(second) << 32) | u64::from(third)
}

impl Index {
    /// `triples` (sorted, distinct, in subject-predicate-object order) in `order`, over
    /// `terms` numbered terms.
    fn new(order: Order, triples: &[[u32; 3]], terms: usize) -> Self {
        let mut rows: Vec<[u32; 3]> = triples.iter().map(|&t| order.row(t)).collect();
        rows.sort_unstable();
        let mut starts = Vec::with_capacity(terms + 1);
        let mut at = 0;
        for term in 0..=terms {
            while at < rows.len() && (rows[at][0] as usize) < term {
                at += 1;
            }
            // Fits: the caller checked that the triples are fewer than `u32::MAX`.
            starts.push(at as u32);
        }
        let rest = rows.iter().map(|r| pack(r[1], r[2])).collect();
        Self {
            order,
            starts,
            rest,
        }
    }

    /// Each first term with its group of rows, where the group is not empty.
    fn groups(&self) -> impl Iterator<Item = (u32, &[u64])> {
        self.starts
            .windows(2)
            .enumerate()
            .filter_map(|(term, range)| {
                let group = &self.rest[range[0] as usize..range[1] as usize];
                // At most `u32::MAX` terms (checked when they were numbered).
                (!group.is_empty()).then_some((term as u32, group))
            })
    }

    /// The rows whose first terms are `key` (at most three; none: every row).
    fn matching(&self, key: &[u32]) -> Matches<'_> {
        let Some(&first) = key.first() else {
            return Matches {
                index: self,
                first: 0,
                at: 0,
                end: self.rest.len(),
            };
        };
        let group = |t: u32| self.starts.get(t as usize).map_or(0, |&s| s as usize);
        let (mut at, mut end) = (group(first), group(first + 1));
        let (low, high) = match key[1..] {
            [] => (None, None),
            [second] => (Some(pack(second, 0)), pack(second, u32::MAX).checked_add(1)),
            [second, third, ..] => (
                Some(pack(second, third)),
                pack(second, third).checked_add(1),
            ),
        };
        let rows = &self.rest[at..end];
        if let Some(low) = low {
            let from = rows.partition_point(|&r| r < low);
            let to = high.map_or(rows.len(), |high| rows.partition_point(|&r| r < high));
            (at, end) = (at + from, at + to.max(from));
        }
        Matches {
            index: self,
            first,
            at,
            end,
        }
    }
}

/// The triples of one pattern: a slice of one index.
pub struct Matches<'a> {
    index: &'a Index,
    /// The first term of the row at `at`, or a term before it (a scan of every row moves on
    /// from group to group).
    first: u32,
    at: usize,
    end: usize,
}

impl Matches<'_> {
    fn len(&self) -> usize {
        self.end - self.at
    }
}

impl Iterator for Matches<'_> {
    type Item = Result<InternalQuad<FrozenTerm>, Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let starts = &self.index.starts;
        while starts[self.first as usize + 1] as usize <= self.at {
            self.first += 1;
        }
        let rest = self.index.rest[self.at];
        self.at += 1;
        // The halves of the packed number: the truncations are the point.
        #[expect(clippy::cast_possible_truncation)]
        let row = [self.first, (rest >> 32) as u32, rest as u32];
        let [subject, predicate, object] = self.index.order.triple(row);
        Some(Ok(InternalQuad {
            subject: FrozenTerm::Stored(subject),
            predicate: FrozenTerm::Stored(predicate),
            object: FrozenTerm::Stored(object),
            graph_name: None,
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl FrozenGraph {
    /// Freezes `triples` (subject, predicate, object; repeats kept once).
    pub fn new<E: std::error::Error + 'static>(
        triples: impl IntoIterator<Item = Result<[Term; 3], E>>,
    ) -> Result<Self, FreezeError<E>> {
        let (mut terms, mut values, mut numbers) = (Vec::new(), Vec::new(), FxHashMap::default());
        let mut number = |term: Term| -> Result<u32, FreezeError<E>> {
            if let Some(number) = numbers.get(&term) {
                return Ok(*number);
            }
            let number = u32::try_from(terms.len()).map_err(|_| FreezeError::TooLarge)?;
            values.push(ExpressionTerm::from(term.clone()));
            terms.push(term.clone());
            numbers.insert(term, number);
            Ok(number)
        };
        let mut spo = Vec::new();
        for triple in triples {
            let [subject, predicate, object] = triple.map_err(FreezeError::Source)?;
            spo.push([number(subject)?, number(predicate)?, number(object)?]);
        }
        spo.sort_unstable();
        spo.dedup();
        if u32::try_from(spo.len()).is_err() {
            return Err(FreezeError::TooLarge);
        }
        let mut graph = Self {
            spo: Index::new(Order::Spo, &spo, terms.len()),
            pos: Index::new(Order::Pos, &spo, terms.len()),
            osp: Index::new(Order::Osp, &spo, terms.len()),
            terms,
            values,
            numbers,
            predicates: FxHashMap::default(),
        };
        // Distinct subjects of a predicate are its distinct (subject, predicate) pairs;
        // distinct objects its distinct (predicate, object) pairs, runs in its group of `pos`.
        let mut subjects: FxHashMap<u32, usize> = FxHashMap::default();
        for pair in spo.chunk_by(|a, b| a[..2] == b[..2]) {
            *subjects.entry(pair[0][1]).or_default() += 1;
        }
        drop(spo);
        for (number, group) in graph.pos.groups() {
            let Term::NamedNode(iri) = &graph.terms[number as usize] else {
                continue;
            };
            let predicate = Predicate {
                number,
                subjects: subjects.get(&number).copied().unwrap_or_default(),
                objects: group.chunk_by(|a, b| a >> 32 == b >> 32).count(),
            };
            graph.predicates.insert(iri.clone(), predicate);
        }
        graph.terms.shrink_to_fit();
        graph.values.shrink_to_fit();
        Ok(graph)
    }

    /// How many triples the graph holds.
    pub fn len(&self) -> usize {
        self.spo.rest.len()
    }

    /// Whether the graph holds no triple.
    pub fn is_empty(&self) -> bool {
        self.spo.rest.is_empty()
    }

    /// The triples matching a pattern of numbers (`None` a variable).
    fn matches(
        &self,
        subject: Option<u32>,
        predicate: Option<u32>,
        object: Option<u32>,
    ) -> Matches<'_> {
        match (subject, predicate, object) {
            (Some(s), Some(p), Some(o)) => self.spo.matching(&[s, p, o]),
            (Some(s), Some(p), None) => self.spo.matching(&[s, p]),
            (Some(s), None, Some(o)) => self.osp.matching(&[o, s]),
            (Some(s), None, None) => self.spo.matching(&[s]),
            (None, Some(p), Some(o)) => self.pos.matching(&[p, o]),
            (None, Some(p), None) => self.pos.matching(&[p]),
            (None, None, Some(o)) => self.osp.matching(&[o]),
            (None, None, None) => self.spo.matching(&[]),
        }
    }

    /// A term's number, when the graph holds it.
    fn lookup(&self, term: &Term) -> Option<u32> {
        self.numbers.get(term).copied()
    }

    /// `term` as the evaluator holds it.
    fn internal(&self, term: Term, value: impl FnOnce(&Term) -> ExpressionTerm) -> FrozenTerm {
        match self.lookup(&term) {
            Some(number) => FrozenTerm::Stored(number),
            None => FrozenTerm::Computed(Arc::new(Computed {
                value: value(&term),
                term,
            })),
        }
    }
}

/// A pattern position: unbound, a term of the graph, or a term it does not hold (no match).
fn position(term: Option<&FrozenTerm>) -> Result<Option<u32>, ()> {
    match term {
        None => Ok(None),
        Some(FrozenTerm::Stored(number)) => Ok(Some(*number)),
        Some(FrozenTerm::Computed(_)) => Err(()),
    }
}

/// At most this many computed values are kept per evaluation (a `BIND` that gives every
/// solution a value of its own gains nothing from them).
const COMPUTED_KEPT: usize = 1 << 16;

/// A frozen graph as one evaluation reads it, with the numbers, dates and booleans it has
/// computed so far: a `BIND` that gives many solutions the same value (the start of a month,
/// per month and agreement) turns it into a term once instead of writing it out and looking it
/// up per solution (Oxigraph's store keeps such values inline, without that cost).
pub struct FrozenView<'a> {
    graph: &'a FrozenGraph,
    computed: RefCell<FxHashMap<ValueKey, FrozenTerm>>,
}

impl FrozenGraph {
    /// The graph for one evaluation.
    pub fn view(&self) -> FrozenView<'_> {
        FrozenView {
            graph: self,
            computed: RefCell::default(),
        }
    }
}

/// A computed value's identity: equal keys are the same value written the same way, so the
/// same term.
#[derive(PartialEq, Eq, Hash)]
enum ValueKey {
    Boolean(bool),
    Integer([u8; 8]),
    Decimal([u8; 16]),
    Double([u8; 8]),
    Date([u8; 18]),
    DateTime([u8; 18]),
}

impl ValueKey {
    fn of(value: &ExpressionTerm) -> Option<Self> {
        Some(match value {
            ExpressionTerm::BooleanLiteral(b) => Self::Boolean(bool::from(*b)),
            ExpressionTerm::IntegerLiteral(i) => Self::Integer(i.to_be_bytes()),
            ExpressionTerm::DecimalLiteral(d) => Self::Decimal(d.to_be_bytes()),
            ExpressionTerm::DoubleLiteral(d) => Self::Double(d.to_be_bytes()),
            ExpressionTerm::DateLiteral(d) => Self::Date(d.to_be_bytes()),
            ExpressionTerm::DateTimeLiteral(d) => Self::DateTime(d.to_be_bytes()),
            _ => return None,
        })
    }
}

impl<'a> QueryableDataset<'a> for FrozenView<'a> {
    type InternalTerm = FrozenTerm;
    type Error = Infallible;

    fn internal_quads_for_pattern(
        &self,
        subject: Option<&FrozenTerm>,
        predicate: Option<&FrozenTerm>,
        object: Option<&FrozenTerm>,
        graph_name: Option<Option<&FrozenTerm>>,
    ) -> impl Iterator<Item = Result<InternalQuad<FrozenTerm>, Infallible>> + use<'a> {
        let graph = self.graph;
        // The frozen graph is a default graph only: no named graph holds anything.
        let positions = (
            position(subject),
            position(predicate),
            position(object),
            graph_name,
        );
        match positions {
            (Ok(s), Ok(p), Ok(o), Some(None)) => graph.matches(s, p, o),
            _ => Matches {
                index: &graph.spo,
                first: 0,
                at: 0,
                end: 0,
            },
        }
    }

    fn internal_named_graphs(
        &self,
    ) -> impl Iterator<Item = Result<FrozenTerm, Infallible>> + use<'a> {
        std::iter::empty()
    }

    fn contains_internal_graph_name(&self, _graph_name: &FrozenTerm) -> Result<bool, Infallible> {
        Ok(false)
    }

    fn internalize_term(&self, term: Term) -> Result<FrozenTerm, Infallible> {
        Ok(self
            .graph
            .internal(term, |term| ExpressionTerm::from(term.clone())))
    }

    fn externalize_term(&self, term: FrozenTerm) -> Result<Term, Infallible> {
        Ok(match term {
            FrozenTerm::Stored(number) => self.graph.terms[number as usize].clone(),
            FrozenTerm::Computed(computed) => computed.term.clone(),
        })
    }

    fn externalize_expression_term(&self, term: FrozenTerm) -> Result<ExpressionTerm, Infallible> {
        Ok(match term {
            FrozenTerm::Stored(number) => self.graph.values[number as usize].clone(),
            FrozenTerm::Computed(computed) => computed.value.clone(),
        })
    }

    fn internalize_expression_term(&self, value: ExpressionTerm) -> Result<FrozenTerm, Infallible> {
        let key = ValueKey::of(&value);
        if let Some(known) = key
            .as_ref()
            .and_then(|k| self.computed.borrow().get(k).cloned())
        {
            return Ok(known);
        }
        let term = Term::from(value.clone());
        let internal = self.graph.internal(term, |_| value);
        let mut computed = self.computed.borrow_mut();
        if let Some(key) = key.filter(|_| computed.len() < COMPUTED_KEPT) {
            computed.insert(key, internal.clone());
        }
        Ok(internal)
    }
}

impl Statistics for FrozenGraph {
    fn matching(
        &self,
        subject: Option<&Term>,
        predicate: &NamedNode,
        object: Option<&Term>,
    ) -> f64 {
        let known = |term: Option<&Term>| match term {
            None => Some(None),
            Some(term) => self.lookup(term).map(Some),
        };
        let (Some(s), Some(o)) = (known(subject), known(object)) else {
            return 0.0;
        };
        let Some(p) = self.predicates.get(predicate) else {
            return 0.0;
        };
        self.matches(s, Some(p.number), o).len() as f64
    }

    fn distinct(&self, predicate: &NamedNode) -> (f64, f64) {
        self.predicates.get(predicate).map_or((1.0, 1.0), |p| {
            (p.subjects.max(1) as f64, p.objects.max(1) as f64)
        })
    }

    fn total(&self) -> f64 {
        self.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};
    use oxigraph::store::Store;

    use super::{FrozenGraph, Statistics};
    use crate::test_support::{parse, rows, sorted_rows};

    fn iri(name: &str) -> NamedNode {
        NamedNode::new_unchecked(format!("http://example.org/{name}"))
    }

    fn integer(lexical: &str) -> Term {
        Literal::new_typed_literal(lexical, oxigraph::model::vocab::xsd::INTEGER).into()
    }

    /// A small graph: people with ages, types, names and links.
    fn triples() -> Vec<[Term; 3]> {
        let mut triples: Vec<[Term; 3]> = vec![
            [iri("a").into(), iri("type").into(), iri("Person").into()],
            [iri("b").into(), iri("type").into(), iri("Person").into()],
            [iri("c").into(), iri("type").into(), iri("Place").into()],
            [iri("a").into(), iri("age").into(), integer("30")],
            [iri("b").into(), iri("age").into(), integer("7")],
            [iri("c").into(), iri("age").into(), integer("31")],
            [
                iri("a").into(),
                iri("name").into(),
                Literal::new_simple_literal("A").into(),
            ],
            [
                iri("a").into(),
                iri("name").into(),
                Literal::new_simple_literal("Alpha").into(),
            ],
            [iri("a").into(), iri("knows").into(), iri("b").into()],
            [iri("b").into(), iri("knows").into(), iri("a").into()],
        ];
        // A repeat is kept once.
        triples.push(triples[0].clone());
        triples
    }

    fn frozen() -> FrozenGraph {
        FrozenGraph::new(triples().into_iter().map(Ok::<_, std::convert::Infallible>)).unwrap()
    }

    fn store() -> Store {
        let store = Store::new().unwrap();
        for [s, p, o] in triples() {
            let Term::NamedNode(s) = s else { panic!() };
            let Term::NamedNode(p) = p else { panic!() };
            store
                .insert(&Quad::new(s, p, o, GraphName::DefaultGraph))
                .unwrap();
        }
        store
    }

    fn frozen_rows(graph: &FrozenGraph, text: &str) -> Vec<String> {
        let prepared = crate::evaluator().for_query(parse(text));
        sorted_rows(
            prepared
                .on_queryable_dataset(graph.view())
                .execute()
                .unwrap(),
        )
    }

    /// The triples a pattern found, as numbers.
    fn numbers(matches: super::Matches<'_>) -> Vec<[u32; 3]> {
        matches
            .map(|q| {
                let q = q.unwrap();
                [q.subject, q.predicate, q.object].map(|t| match t {
                    super::FrozenTerm::Stored(n) => n,
                    super::FrozenTerm::Computed(_) => {
                        panic!("a stored triple holds a computed term")
                    }
                })
            })
            .collect()
    }

    #[test]
    fn every_pattern_shape_finds_what_a_scan_finds() {
        let graph = frozen();
        assert_eq!(graph.len(), 10);
        // Every triple once, from the scan of the whole graph, checked against the input.
        let all = numbers(graph.matches(None, None, None));
        let mut written: Vec<String> = triples()
            .iter()
            .map(|[s, p, o]| format!("{s} {p} {o}"))
            .collect();
        written.sort();
        written.dedup();
        let mut read: Vec<String> = all
            .iter()
            .map(|t| t.map(|n| graph.terms[n as usize].to_string()).join(" "))
            .collect();
        read.sort();
        assert_eq!(read, written);
        let terms: Vec<Option<u32>> = std::iter::once(None)
            .chain((0..graph.terms.len() as u32).map(Some))
            .collect();
        for &s in &terms {
            for &p in &terms {
                for &o in &terms {
                    let found = numbers(graph.matches(s, p, o));
                    let fits = |want: Option<u32>, have: u32| want.is_none_or(|w| w == have);
                    let mut scanned: Vec<[u32; 3]> = all
                        .iter()
                        .copied()
                        .filter(|t| fits(s, t[0]) && fits(p, t[1]) && fits(o, t[2]))
                        .collect();
                    let mut sorted = found.clone();
                    sorted.sort_unstable();
                    scanned.sort_unstable();
                    assert_eq!(sorted, scanned, "pattern {s:?} {p:?} {o:?}");
                }
            }
        }
    }

    #[test]
    fn answers_as_oxigraphs_store_does() {
        let (graph, store) = (frozen(), store());
        let ex = "PREFIX ex: <http://example.org/> ";
        for query in [
            // Patterns, joins, a constant the graph lacks.
            "SELECT ?x ?n WHERE { ?x ex:type ex:Person . OPTIONAL { ?x ex:name ?n } }",
            "SELECT ?x WHERE { ?x ex:type ex:Nobody }",
            "SELECT ?x ?y WHERE { ?x ex:knows ?y . ?y ex:knows ?x }",
            // Filters on parsed values.
            "SELECT ?x ?a WHERE { ?x ex:age ?a FILTER(?a < 31) }",
            // A computed value that the graph holds joins with it; one it lacks does not.
            "SELECT ?x ?y WHERE { ?x ex:age ?a BIND(?a + 1 AS ?b) ?y ex:age ?b }",
            "SELECT ?x ?b WHERE { ?x ex:age ?a BIND(?a + 1 AS ?b) }",
            "SELECT ?x WHERE { BIND(30 AS ?a) ?x ex:age ?a }",
            // The same value computed for several solutions (kept after the first): each
            // time the graph's term, joined with its triple.
            "SELECT ?k ?y WHERE { VALUES ?k { 1 2 3 } BIND(30 + ?k - ?k + 1 AS ?b) ?y ex:age ?b }",
            "SELECT ?k ?d WHERE { VALUES ?k { 1 2 3 } BIND(xsd:date(\"2024-01-31\") AS ?d) }",
            // Aggregates, DISTINCT and sameTerm on computed and stored terms.
            "SELECT ?t (COUNT(?x) AS ?n) WHERE { ?x ex:type ?t } GROUP BY ?t",
            "SELECT DISTINCT ?p WHERE { ?s ?p ?o }",
            "SELECT ?x WHERE { ?x ex:age ?a FILTER(sameTerm(?a, 7)) }",
            // Named graphs hold nothing.
            "SELECT ?g ?s WHERE { GRAPH ?g { ?s ?p ?o } }",
        ] {
            let text = format!("{ex}{query}");
            let expected = rows(&store, parse(&text), true);
            assert_eq!(frozen_rows(&graph, &text), expected, "{query}");
        }
        // Not vacuous: the value kept after the first solution joins in every one.
        let kept = frozen_rows(
            &graph,
            &format!(
                "{ex}SELECT ?k ?y WHERE {{ VALUES ?k {{ 1 2 3 }} \
                 BIND(30 + ?k - ?k + 1 AS ?b) ?y ex:age ?b }}"
            ),
        );
        assert_eq!(kept.len(), 3, "{kept:?}");
        // Not vacuous: the join on a computed value finds a pair (a's 30 + 1 is c's 31).
        let joined = frozen_rows(
            &graph,
            &format!("{ex}SELECT ?x ?y WHERE {{ ?x ex:age ?a BIND(?a + 1 AS ?b) ?y ex:age ?b }}"),
        );
        assert_eq!(
            joined,
            ["?x=<http://example.org/a> ?y=<http://example.org/c> "]
        );
    }

    /// Oxigraph's store writes a number in canonical form (`"07"` becomes `"7"`); the frozen
    /// graph keeps the terms it is given (the node's copy is read from that store, so it sees
    /// what the store kept), and its own comparisons are on values.
    #[test]
    fn a_term_keeps_its_lexical_form() {
        let age: [Term; 3] = [iri("b").into(), iri("age").into(), integer("07")];
        let graph = FrozenGraph::new([Ok::<_, std::convert::Infallible>(age)]).unwrap();
        let ex = "PREFIX ex: <http://example.org/> ";
        assert_eq!(
            frozen_rows(
                &graph,
                &format!("{ex}SELECT ?a WHERE {{ ex:b ex:age ?a FILTER(?a = 7) }}")
            ),
            ["?a=\"07\"^^<http://www.w3.org/2001/XMLSchema#integer> "]
        );
        // `sameTerm` and joins are on terms: the computed 7 is not the term "07".
        assert!(frozen_rows(
            &graph,
            &format!("{ex}SELECT ?x WHERE {{ BIND(7 AS ?a) ?x ex:age ?a }}")
        )
        .is_empty());
    }

    #[test]
    fn counts_are_exact() {
        let graph = frozen();
        assert_eq!(graph.total(), 10.0);
        let person = Term::from(iri("Person"));
        assert_eq!(graph.matching(None, &iri("type"), None), 3.0);
        assert_eq!(graph.matching(None, &iri("type"), Some(&person)), 2.0);
        let a = Term::from(iri("a"));
        assert_eq!(graph.matching(Some(&a), &iri("name"), None), 2.0);
        assert_eq!(graph.distinct(&iri("type")), (3.0, 2.0));
        assert_eq!(graph.distinct(&iri("name")), (1.0, 2.0));
        assert_eq!(graph.distinct(&iri("knows")), (2.0, 2.0));
        // A literal is never a subject; a term or predicate the graph lacks matches nothing.
        let literal = Term::from(Literal::new_simple_literal("A"));
        assert_eq!(graph.matching(Some(&literal), &iri("name"), None), 0.0);
        let absent = Term::from(iri("absent"));
        assert_eq!(graph.matching(None, &iri("type"), Some(&absent)), 0.0);
        assert_eq!(graph.matching(None, &iri("absent"), None), 0.0);
        assert_eq!(graph.distinct(&iri("absent")), (1.0, 1.0));
    }
}
