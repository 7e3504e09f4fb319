//! Join order from the data's own counts: each block of triples, paths, `VALUES`, `BIND`s and
//! `FILTER`s (a *group* below) becomes a chain of lookups that starts where the data says the
//! fewest solutions are and adds, one at a time, the part that keeps the running count of
//! solutions smallest, with every `BIND` and `FILTER` applied as soon as what it reads is known.
//!
//! Why: Oxigraph's planner (sparopt 0.3.9, `estimate_graph_pattern_size`) has no statistics; it
//! counts a triple with a constant object as 1,000 solutions and a `VALUES` table as its rows,
//! whatever the data. Official IGJ 1.4.1 therefore started at its `VALUES` of three agreement
//! types, walked every agreement, its work arrangements and every worked period of each, and
//! only then matched the one vestigingsnummer asked for (436,456 rows at 1,000 employees, 12 s
//! from disk), where the vestigingsnummer leads to one vestiging, its locations and their worked
//! periods. Apache Jena (the field's reference) orders by such counts; so does this.
//!
//! The chain is `Lateral(…Lateral(first, second)…, last)` (SEP-0006 `LATERAL`), which the planner
//! keeps as it is (it reorders `Join` trees only). Why the answer cannot change (SPARQL 1.1
//! §18.5): a group is the join of its triples, paths and tables, with `Extend` and `Filter`
//! applied to parts of it; the join is associative and commutative; `Lateral(L, t)` is
//! `Join(L, t)` for a triple, a table, or a path that gives each pair of ends once (see
//! `lateral.rs`; a path that may have length zero is only looked up from ends bound by triples,
//! which are nodes of the data, since from a term outside the data it would give that term
//! where the join gives nothing — or when a triple of the group keeps its other end to nodes,
//! which removes that pair, see [`may_look_up`]); `Extend(Join(P, Q), x, e)` is `Join(Extend(P, x, e), Q)` and
//! `Filter(Join(P, Q), f)` is `Join(Filter(P, f), Q)` when every variable `e` or `f` reads is
//! bound in every solution of `P` or bound nowhere in the group (§18.2.4.1 for filters, the same
//! argument for a deterministic `BIND`). A `BIND` variable that a triple also uses is only read
//! by that triple after the `BIND`; a group whose expressions read such a variable, a `BIND`
//! that may make fresh values (`RAND()`, `BNODE()`, …) or an `EXISTS` is not reordered.
//!
//! Only where a group is evaluated once: the whole pattern, sub-selects (the planner never runs
//! one per solution of something else), union branches and the left sides of `OPTIONAL`,
//! `MINUS` and lookups not themselves joined with other parts. A group joined with other parts,
//! the right side of an `OPTIONAL` or of a lookup, and `EXISTS`, may be run once per solution
//! of something else with its values bound, which an order chosen here without them cannot
//! use; they are left to the planner (tried otherwise: NZa kostenonderzoek 1.1 went from 0.3 s
//! to over 20 s, Zorgkantoren 2.1, 7.1, 8.1 and 11.x 4 to 14 times slower at 1,000 employees).
//! A group whose parts meet only through the rest of the query is left to the planner too,
//! which sees that rest; and so is one whose order as written the counts estimate within
//! [`IMPROVEMENT`] times the best one: the model knows nothing of what a `BIND` or `FILTER`
//! keeps, and a close call is where it misleads.
//!
//! A `UNION` of single triples that bind the same variables (the ledger questions' `{ ?rubriek a
//! onz-fin:Grootboekrubriek } UNION { ?rubriek a onz-fin:Grootboekrekening }`, the IGJ
//! questions' two kinds of indication) is a part like a triple: its estimate is the sum of its
//! branches', it may start the chain or be looked up branch by branch. Before, such a group was
//! left to the planner, which looked the union up for every posting of the five years (two
//! lookups each) where there are 59 headings and accounts to start from (Zorgkantoren 18.2, 19.x,
//! 22.1, 23.x, 24.x: 10-45 % faster at 1,000 employees).
//!
//! Sub-selects joined with a group's triples (the official questions' agreements with their
//! `OPTIONAL` end date, which `lateral.rs` makes a sub-select, joined with the worked or paid
//! periods and a per-vestiging sub-select) are parts too, evaluated once: the chain may start
//! at one, and one after the start is hash-joined to the chain so far (the chain sealed as a
//! sub-select of its own, so the planner cannot run it once per solution of the sub-select).
//! The planner itself never looks anything up from a sub-select: it plans the other parts on
//! their own and hash-joins the sub-select to them, which is the baseline such a plan must beat
//! by [`IMPROVEMENT`]. NZa Wmg 1.2.2 at 1,000 employees: every one of 35,460 worked periods
//! read for 178 agreements, 0.28 s; from the agreements, 0.016 s. A `FILTER` waits for every
//! part that may bind what it reads, so a variable a sub-select may leave unbound and no other
//! part binds is final once the sub-select has run (the dates Zorgkantoren 2.2 computes with
//! `BIND` beside its agreements now filter the paid periods as they are read); a nested
//! expression that reads such a variable keeps its group as written when another part also
//! binds it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use oxigraph::model::{NamedNode, Term, Variable};
use spargebra::algebra::{Expression, GraphPattern, PropertyPathExpression};
use spargebra::term::{GroundTerm, NamedNodePattern, TermPattern, TriplePattern};
use spargebra::Query;

use super::lateral::is_set_valued;
use super::pattern::rewrite_where;
use super::scope::{expression_variables, scope_of};
use super::varset::{Numbering, VarSet};

/// Counts of the data a query runs on, for choosing an order. Estimates may be rough; only the
/// order they give matters.
pub trait Statistics {
    /// How many triples match `subject predicate object`, `None` standing for a variable.
    fn matching(&self, subject: Option<&Term>, predicate: &NamedNode, object: Option<&Term>)
        -> f64;
    /// How many distinct subjects and distinct objects `predicate` has (each at least 1).
    fn distinct(&self, predicate: &NamedNode) -> (f64, f64);
    /// How many triples there are in all.
    fn total(&self) -> f64;
}

/// Orders every group of `query` by `statistics` (see the module documentation). Run after the
/// other rewrites (`engine_algebra`): they decide which parts are looked up per solution.
pub fn order_joins(query: Query, statistics: &dyn Statistics) -> Query {
    let (Query::Select { pattern, .. }
    | Query::Ask { pattern, .. }
    | Query::Construct { pattern, .. }
    | Query::Describe { pattern, .. }) = &query;
    if has_graph_clause(pattern) {
        // The counts are of the default graph.
        return query;
    }
    let ordered: Result<Query, std::convert::Infallible> = rewrite_where(query, |pattern| {
        Ok(Orderer { statistics }.order(pattern, false))
    });
    match ordered {
        Ok(query) => query,
        Err(never) => match never {},
    }
}

fn has_graph_clause(pattern: &GraphPattern) -> bool {
    struct Finder(bool);
    impl super::pattern::BottomUp for Finder {
        fn pattern(&mut self, pattern: GraphPattern) -> GraphPattern {
            self.0 |= matches!(
                pattern,
                GraphPattern::Graph { .. } | GraphPattern::Service { .. }
            );
            pattern
        }
    }
    let mut finder = Finder(false);
    super::pattern::visit(pattern, &mut finder);
    finder.0
}

struct Orderer<'a> {
    statistics: &'a dyn Statistics,
}

/// One part of a group; a sub-select is borrowed from the pattern taken apart until a chain
/// is built of it (most groups are not reordered, and a sub-select may hold the rest of a
/// nested query).
#[derive(Clone)]
enum Part<'a> {
    /// A triple pattern (blank nodes made variables).
    Triple(TriplePattern),
    /// A path; `zero` when it may have length zero.
    Path {
        subject: TermPattern,
        path: PropertyPathExpression,
        object: TermPattern,
        zero: bool,
    },
    /// A `UNION` of single triples that bind the same variables, such as `{ ?account a
    /// onz-fin:Grootboekrubriek } UNION { ?account a onz-fin:Grootboekrekening }`: looked up per
    /// solution like a triple (each branch in turn), or the chain's start.
    Alternatives(Vec<TriplePattern>),
    /// A `VALUES` table.
    Values {
        variables: Vec<Variable>,
        bindings: Vec<Vec<Option<GroundTerm>>>,
    },
    /// A `BIND`.
    Extend {
        variable: Variable,
        expression: Expression,
    },
    /// A `FILTER`.
    Filter(Expression),
    /// A sub-select joined with the rest of the group, with the variables it may bind, those
    /// it binds in every solution and its estimated solutions. It is evaluated once: as the
    /// chain's start or hash-joined to it, never looked up per solution.
    Opaque {
        pattern: Cow<'a, GraphPattern>,
        binds: Vec<Variable>,
        certain: Vec<Variable>,
        rows: f64,
    },
}

/// A group taken apart.
#[derive(Default)]
struct Group<'a> {
    parts: Vec<Part<'a>>,
    /// Variables an expression reads that its own part of the group does not bind in every
    /// solution: the group may only be reordered when they are bound nowhere in it.
    free: BTreeSet<Variable>,
    /// Variables an expression reads that only a sub-select of its own part may leave
    /// unbound: the group may only be reordered when nothing else in it binds them.
    from_opaque: BTreeSet<Variable>,
}

impl Part<'_> {
    /// Whether a blank node of the query became a variable here; the chain is then projected
    /// on the query's own variables, as a blank node is no part of a solution (`COUNT(DISTINCT
    /// *)` would count it).
    fn has_renamed_blank_node(&self) -> bool {
        self.binds()
            .iter()
            .any(|v| v.as_str().starts_with(BLANK_NODE_PREFIX))
    }

    fn is_expression(&self) -> bool {
        matches!(self, Part::Extend { .. } | Part::Filter(_))
    }

    fn is_opaque(&self) -> bool {
        matches!(self, Part::Opaque { .. })
    }

    /// The variables a triple, path or table binds (in every solution for triples and paths).
    fn binds(&self) -> Vec<Variable> {
        match self {
            Part::Triple(t) => {
                let mut v: Vec<Variable> = [&t.subject, &t.object]
                    .into_iter()
                    .filter_map(variable_of)
                    .collect();
                if let NamedNodePattern::Variable(p) = &t.predicate {
                    v.push(p.clone());
                }
                v
            }
            Part::Path {
                subject, object, ..
            } => [subject, object]
                .into_iter()
                .filter_map(variable_of)
                .collect(),
            // The branches bind the same variables (`alternatives`).
            Part::Alternatives(branches) => Part::Triple(branches[0].clone()).binds(),
            Part::Values { variables, .. } => variables.clone(),
            Part::Extend { variable, .. } => vec![variable.clone()],
            Part::Filter(_) => Vec::new(),
            Part::Opaque { binds, .. } => binds.clone(),
        }
    }

    /// The variables a table binds in every row.
    fn certain(&self) -> Vec<Variable> {
        match self {
            Part::Values {
                variables,
                bindings,
            } => variables
                .iter()
                .enumerate()
                .filter(|(i, _)| bindings.iter().all(|row| row[*i].is_some()))
                .map(|(_, v)| v.clone())
                .collect(),
            Part::Extend { .. } | Part::Filter(_) => Vec::new(),
            Part::Opaque { certain, .. } => certain.clone(),
            _ => self.binds(),
        }
    }

    fn reads(&self) -> BTreeSet<Variable> {
        match self {
            Part::Extend { expression, .. } | Part::Filter(expression) => {
                expression_variables(expression).unwrap_or_default()
            }
            _ => BTreeSet::new(),
        }
    }

    fn into_pattern(self) -> GraphPattern {
        match self {
            Part::Triple(t) => GraphPattern::Bgp { patterns: vec![t] },
            Part::Alternatives(branches) => branches
                .into_iter()
                .map(|t| GraphPattern::Bgp { patterns: vec![t] })
                .reduce(|left, right| GraphPattern::Union {
                    left: Box::new(left),
                    right: Box::new(right),
                })
                .unwrap_or(GraphPattern::Bgp {
                    patterns: Vec::new(),
                }),
            Part::Path {
                subject,
                path,
                object,
                ..
            } => GraphPattern::Path {
                subject,
                path,
                object,
            },
            Part::Values {
                variables,
                bindings,
            } => GraphPattern::Values {
                variables,
                bindings,
            },
            Part::Opaque { pattern, .. } => pattern.into_owned(),
            Part::Extend { .. } | Part::Filter(_) => unreachable!("expressions wrap a chain"),
        }
    }
}

/// The branches of `pattern` when it is a `UNION` (of any depth) of single triples without
/// blank nodes that all bind the same variables: a part that binds them in every solution.
fn alternatives(pattern: &GraphPattern) -> Option<Vec<TriplePattern>> {
    fn branches(pattern: &GraphPattern, found: &mut Vec<TriplePattern>) -> bool {
        match pattern {
            GraphPattern::Union { left, right } => branches(left, found) && branches(right, found),
            GraphPattern::Bgp { patterns } => match patterns.as_slice() {
                [triple] => {
                    let blank = [&triple.subject, &triple.object]
                        .into_iter()
                        .any(|t| matches!(t, TermPattern::BlankNode(_)));
                    found.push(triple.clone());
                    !blank
                }
                _ => false,
            },
            _ => false,
        }
    }
    let mut found = Vec::new();
    if !branches(pattern, &mut found) {
        return None;
    }
    let variables = |t: &TriplePattern| -> BTreeSet<Variable> {
        Part::Triple(t.clone()).binds().into_iter().collect()
    };
    let first = variables(found.first()?);
    found.iter().all(|t| variables(t) == first).then_some(found)
}

fn variable_of(term: &TermPattern) -> Option<Variable> {
    match term {
        TermPattern::Variable(v) => Some(v.clone()),
        _ => None,
    }
}

/// Whether the shape of `pattern` allows a group ([`Group::absorb`] may take it apart): asked
/// before the parts are copied and their expressions read. Why: a group under a lookup of an
/// `OPTIONAL` is no group, and each `BIND` or `FILTER` above it was taken apart, copies and all,
/// once for itself and once for every level above it before the `OPTIONAL` was met (Zorgkantoren
/// 24.x: ten levels).
fn may_be_group(pattern: &GraphPattern, opaque: bool) -> bool {
    match pattern {
        GraphPattern::Bgp { .. } | GraphPattern::Values { .. } | GraphPattern::Union { .. } => true,
        GraphPattern::Path { path, .. } => path_kind(path).is_some(),
        GraphPattern::Join { left, right } => {
            may_be_group(right, opaque) && may_be_group(left, opaque)
        }
        GraphPattern::Lateral { left, right } => {
            may_be_group(right, false) && may_be_group(left, opaque)
        }
        GraphPattern::Project { .. } => opaque,
        GraphPattern::Extend { inner, .. } | GraphPattern::Filter { inner, .. } => {
            may_be_group(inner, opaque)
        }
        _ => false,
    }
}

/// How many times cheaper than the order written a plan must be estimated to replace it.
/// Ten until the estimates knew what a `FILTER` keeps and that a sub-select runs once; at
/// three, NZa kostenonderzoek 2.1 starts at its paid periods and filters their dates before
/// walking to their hour values, instead of walking all hour values first as the planner does
/// (0.72-0.83 s to 0.44-0.47 s for three runs at 1,000 employees, A/B of two builds; no query
/// slower beyond the noise between identical runs, row counts of all 394 runs identical).
const IMPROVEMENT: f64 = 3.0;

/// The share of solutions a `FILTER` is taken to keep (the counts say nothing of values).
/// Without it a filter cost nothing and saved nothing, so a plan that reads the date a filter
/// compares before lookups that keep every solution was no cheaper than one that reads it
/// last (tried at 1,000 employees: Zorgkantoren 8.1 2.2-2.5 s to 1.8-1.9 s for five runs, no
/// query slower beyond the noise between identical runs).
const FILTER_KEEPS: f64 = 0.3;

/// How the variable a blank node became starts.
const BLANK_NODE_PREFIX: &str = "kikv_bnode_";

/// A blank node of a BGP as a variable of its own (a blank node acts as a variable of its BGP,
/// and a BGP is taken apart here), named with [`BLANK_NODE_PREFIX`] and the blank node's
/// identifier (the parser's random one for `[]` and paths): a query would have to use that
/// prefix itself to meet it.
fn as_variable(term: TermPattern) -> TermPattern {
    match term {
        TermPattern::BlankNode(b) => TermPattern::Variable(Variable::new_unchecked(format!(
            "{BLANK_NODE_PREFIX}{}",
            b.as_str()
        ))),
        other => other,
    }
}

/// Whether a path gives each pair of ends once however it is evaluated (`lateral.rs`), also
/// with parts that may have length zero (`*`, `?`: sets of pairs); whether it may have length
/// zero.
fn path_kind(path: &PropertyPathExpression) -> Option<bool> {
    use PropertyPathExpression as E;
    if is_set_valued(path) {
        return Some(false);
    }
    match path {
        E::ZeroOrMore(p) | E::ZeroOrOne(p) => path_kind(p).map(|_| true),
        _ => None,
    }
}

impl<'a> Group<'a> {
    /// Takes `pattern` apart into `self`; false when it is not a group (then `self` is spoilt).
    /// With `opaque`, a sub-select joined with the rest becomes a part of its own.
    fn absorb(&mut self, pattern: &'a GraphPattern, opaque: bool) -> bool {
        may_be_group(pattern, opaque) && self.absorb_parts(pattern, opaque)
    }

    /// [`Group::absorb`] once the shape allows a group.
    fn absorb_parts(&mut self, pattern: &'a GraphPattern, opaque: bool) -> bool {
        match pattern {
            GraphPattern::Bgp { patterns } => {
                for t in patterns {
                    self.parts.push(Part::Triple(TriplePattern {
                        subject: as_variable(t.subject.clone()),
                        predicate: t.predicate.clone(),
                        object: as_variable(t.object.clone()),
                    }));
                }
                true
            }
            GraphPattern::Path {
                subject,
                path,
                object,
            } => match path_kind(path) {
                Some(zero) => {
                    self.parts.push(Part::Path {
                        subject: as_variable(subject.clone()),
                        path: path.clone(),
                        object: as_variable(object.clone()),
                        zero,
                    });
                    true
                }
                None => false,
            },
            GraphPattern::Values {
                variables,
                bindings,
            } => {
                self.parts.push(Part::Values {
                    variables: variables.clone(),
                    bindings: bindings.clone(),
                });
                true
            }
            GraphPattern::Join { left, right } => {
                self.absorb_parts(left, opaque) && self.absorb_parts(right, opaque)
            }
            // A lookup's right side sees the left's values: no sub-select there.
            GraphPattern::Lateral { left, right } => {
                self.absorb_parts(left, opaque) && self.absorb_parts(right, false)
            }
            GraphPattern::Union { .. } if alternatives(pattern).is_some() => {
                self.parts.push(Part::Alternatives(
                    alternatives(pattern).unwrap_or_default(),
                ));
                true
            }
            // A union of sub-selects (a "total" row keyed on the shared pattern's variable,
            // `union.rs`) is evaluated once and hash-joined like a sub-select.
            GraphPattern::Union { left, right }
                if opaque
                    && matches!(**left, GraphPattern::Project { .. })
                    && matches!(**right, GraphPattern::Project { .. }) =>
            {
                self.push_opaque(pattern);
                true
            }
            GraphPattern::Project { .. } if opaque => {
                self.push_opaque(pattern);
                true
            }
            GraphPattern::Extend {
                inner,
                variable,
                expression,
            } => {
                let deterministic = super::union::is_deterministic_expression(expression);
                if !deterministic || expression_variables(expression).is_none() {
                    return false;
                }
                let start = self.parts.len();
                if !self.absorb_parts(inner, opaque) {
                    return false;
                }
                self.note_free(start, expression);
                self.parts.push(Part::Extend {
                    variable: variable.clone(),
                    expression: expression.clone(),
                });
                true
            }
            GraphPattern::Filter { expr, inner } => {
                if expression_variables(expr).is_none() {
                    return false;
                }
                let start = self.parts.len();
                if !self.absorb_parts(inner, opaque) {
                    return false;
                }
                self.note_free(start, expr);
                self.parts.push(Part::Filter(expr.clone()));
                true
            }
            _ => false,
        }
    }

    /// Adds `pattern`, evaluated once, as a part.
    fn push_opaque(&mut self, pattern: &'a GraphPattern) {
        let scope = scope_of(pattern);
        self.parts.push(Part::Opaque {
            pattern: Cow::Borrowed(pattern),
            certain: scope.certain.iter().cloned().collect(),
            binds: scope.possible.into_iter().collect(),
            // Estimated once the group is known to be one (`estimate_opaque`).
            rows: f64::NAN,
        });
    }

    /// Notes the variables `expression` reads that the parts from `start` on (its own part of
    /// the group) do not bind in every solution (by a triple, a path, a full table column or a
    /// `BIND`).
    fn note_free(&mut self, start: usize, expression: &Expression) {
        let reads = expression_variables(expression).unwrap_or_default();
        for v in reads {
            let determined = self.parts[start..].iter().any(|p| match p {
                Part::Extend { variable, .. } => *variable == v,
                other => other.certain().contains(&v),
            });
            let from_opaque = self.parts[start..]
                .iter()
                .any(|p| matches!(p, Part::Opaque { .. }) && p.binds().contains(&v));
            if !determined {
                if from_opaque {
                    self.from_opaque.insert(v);
                } else {
                    self.free.insert(v);
                }
            }
        }
    }

    /// The group's [`Context`] when the complete group may be reordered (see
    /// [`Context::valid`]).
    fn context(self) -> Option<Context<'a>> {
        let Group {
            parts,
            free,
            from_opaque,
        } = self;
        let ctx = Context::of(parts)?;
        ctx.valid(&free, &from_opaque).then_some(ctx)
    }
}

/// Estimates of one group's parts by part index and which of the variables the part binds are
/// bound already (all an estimate reads of what is known).
struct Estimates(std::cell::RefCell<Vec<Vec<(VarSet, f64)>>>);

/// A triple's or path's end: a variable's number in its group, or `None` for a constant.
type End = Option<usize>;

/// A group's parts with what every plan of them reads, its variables numbered
/// ([`VarSet`]).
struct Context<'a> {
    parts: Vec<Part<'a>>,
    numbering: Numbering,
    /// Variables expressions read that no part binds.
    never: VarSet,
    /// Variables exactly one part binds.
    exclusive: VarSet,
    /// Estimates by part and what of its variables is bound, shared by every plan.
    cache: Estimates,
    /// What each part binds, binds in every solution and reads, by index.
    binds: Vec<VarSet>,
    certain: Vec<VarSet>,
    reads: Vec<VarSet>,
    /// The variable of each `BIND`.
    extends: Vec<Option<usize>>,
    /// What the parts bind, what they read and the `BIND` variables, all parts together.
    bound: VarSet,
    read: VarSet,
    extended: VarSet,
    /// The subject and object of each triple and path.
    ends: Vec<Option<[End; 2]>>,
    /// Variables a triple of the group has as subject or object: a node of the data in every
    /// solution of the group.
    nodes: VarSet,
}

impl<'a> Context<'a> {
    /// `None` when the group has more variables than a [`VarSet`] holds.
    fn of(parts: Vec<Part<'a>>) -> Option<Self> {
        let mut numbering = Numbering::default();
        let mut binds = Vec::with_capacity(parts.len());
        let mut certain = Vec::with_capacity(parts.len());
        let mut reads = Vec::with_capacity(parts.len());
        let mut extends = Vec::with_capacity(parts.len());
        let mut ends = Vec::with_capacity(parts.len());
        let mut nodes = VarSet::EMPTY;
        for part in &parts {
            binds.push(numbering.set(&part.binds())?);
            certain.push(numbering.set(&part.certain())?);
            reads.push(numbering.set(&part.reads())?);
            extends.push(match part {
                Part::Extend { variable, .. } => Some(numbering.number(variable)?),
                _ => None,
            });
            let mut end = |term: &TermPattern| -> Option<End> {
                super::scope::term_variable(term)
                    .map(|v| numbering.number(v))
                    .map_or(Some(None), |n| n.map(Some))
            };
            ends.push(match part {
                Part::Triple(TriplePattern {
                    subject, object, ..
                })
                | Part::Path {
                    subject, object, ..
                } => Some([end(subject)?, end(object)?]),
                _ => None,
            });
            let node_ends: Vec<&TermPattern> = match part {
                Part::Triple(t) => vec![&t.subject, &t.object],
                Part::Alternatives(branches) => branches
                    .iter()
                    .flat_map(|t| [&t.subject, &t.object])
                    .collect(),
                _ => Vec::new(),
            };
            let node_variables = node_ends
                .into_iter()
                .filter_map(super::scope::term_variable);
            nodes = nodes.union(numbering.set(node_variables)?);
        }
        let bound: VarSet = binds.iter().copied().collect();
        let read: VarSet = reads.iter().copied().collect();
        let extended: VarSet = extends.iter().flatten().map(|v| VarSet::one(*v)).collect();
        let never = read.difference(bound);
        let mut exclusive = VarSet::EMPTY;
        for v in 0..numbering.len() {
            let binding = parts
                .iter()
                .zip(&binds)
                .filter(|(p, b)| !p.is_expression() && b.contains(v))
                .count();
            if binding == 1 {
                exclusive.insert(v);
            }
        }
        Some(Self {
            cache: Estimates(std::cell::RefCell::new(vec![Vec::new(); parts.len()])),
            parts,
            numbering,
            never,
            exclusive,
            binds,
            certain,
            reads,
            extends,
            bound,
            read,
            extended,
            ends,
            nodes,
        })
    }

    /// Whether `variable` is in `set` (false for one the group does not have).
    fn has(&self, set: VarSet, variable: &Variable) -> bool {
        self.numbering
            .get(variable)
            .is_some_and(|n| set.contains(n))
    }

    /// Whether the complete group may be reordered (`free` and `from_opaque` of its
    /// [`Group`]): every variable an expression reads that its
    /// own part does not bind is bound nowhere in the group, and no expression reads a
    /// `BIND` variable a triple, path or table also binds (it could be bound there when the
    /// `BIND` fails, after the expression ran in the query as written).
    fn valid(&self, free: &BTreeSet<Variable>, from_opaque: &BTreeSet<Variable>) -> bool {
        let bound_by_parts: VarSet = self
            .parts
            .iter()
            .zip(&self.binds)
            .filter(|(p, _)| !p.is_expression())
            .map(|(_, b)| *b)
            .collect();
        !free.iter().any(|v| self.has(self.bound, v))
            && from_opaque.iter().all(|v| self.has(self.exclusive, v))
            && self.is_connected()
            && self
                .read
                .intersection(self.extended)
                .intersection(bound_by_parts)
                .is_empty()
            && self.parts.iter().filter(|p| !p.is_expression()).count() >= 2
    }

    /// Whether the parts are linked by shared variables (a `BIND` links what it reads to its
    /// variable; one that reads nothing runs first): a group whose parts only meet through the rest of the query is left to the
    /// planner, which sees that rest.
    fn is_connected(&self) -> bool {
        let names: Vec<VarSet> = self
            .binds
            .iter()
            .zip(&self.reads)
            .map(|(b, r)| b.union(*r))
            .collect();
        // A `FILTER` links nothing; a `BIND` of a constant runs first; a sub-select that shares
        // no variable with any other part (the "total" row of a `UNION` the join was
        // distributed over) is joined last, as the planner would.
        let shares = |i: usize| {
            names
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && names[i].intersects(*other))
        };
        let linked: Vec<usize> = (0..self.parts.len())
            .filter(|&i| match &self.parts[i] {
                Part::Filter(_) => false,
                Part::Extend { .. } => !self.reads[i].is_empty(),
                Part::Opaque { .. } => shares(i),
                _ => true,
            })
            .collect();
        let Some(&first) = linked.first() else {
            return true;
        };
        let mut reached = names[first];
        let mut seen = vec![false; self.parts.len()];
        seen[first] = true;
        let mut progress = true;
        while progress {
            progress = false;
            for &i in &linked {
                if !seen[i] && names[i].intersects(reached) {
                    seen[i] = true;
                    reached = reached.union(names[i]);
                    progress = true;
                }
            }
        }
        linked.iter().all(|&i| seen[i])
    }
}

/// How a plan chooses its next part.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The smallest estimate next.
    Best,
    /// As written.
    Written,
    /// The smallest estimate next, sub-selects after every other part.
    OpaqueLast,
}

/// What is known at a point of the chain.
#[derive(Default, Clone, Copy)]
struct Known {
    /// Bound in some solutions (the estimate treats them as bound).
    bound: VarSet,
    /// Bound in every solution, to the value the whole group gives it, or made by a `BIND`.
    determined: VarSet,
    /// Bound by a triple or a path: a node of the data.
    nodes: VarSet,
}

/// Whether `pattern`, below its `BIND`s and `FILTER`s, joins parts: only then can it be a group
/// of a sub-select and something else (a group needs two parts that are not expressions). Asked
/// before taking a group apart with its sub-selects, which copies each of them: without it every
/// sub-select of a nested query was copied once per level above it, only to find it alone.
fn joins_parts(pattern: &GraphPattern) -> bool {
    match pattern {
        GraphPattern::Extend { inner, .. } | GraphPattern::Filter { inner, .. } => {
            joins_parts(inner)
        }
        GraphPattern::Join { .. } | GraphPattern::Lateral { .. } => true,
        _ => false,
    }
}

impl Orderer<'_> {
    /// `pattern` with its groups ordered; `joined` when a join may run it once per solution of
    /// another part.
    fn order(&self, pattern: GraphPattern, joined: bool) -> GraphPattern {
        self.order_in(pattern, joined, true)
    }

    /// [`Orderer::order`]; `opaque` false where the group with sub-selects around `pattern`
    /// was already found not worth reordering (below its `FILTER`s and `BIND`s it is the same
    /// group with fewer expressions).
    fn order_in(&self, pattern: GraphPattern, joined: bool, opaque: bool) -> GraphPattern {
        let mut opaque_tried = false;
        if !joined && opaque && joins_parts(&pattern) {
            // Sub-selects joined with triples: the planner hash-joins them with the rest,
            // planned on its own (see the module documentation).
            let mut group = Group::default();
            let context = (group.absorb(&pattern, true) && group.parts.iter().any(Part::is_opaque))
                .then(|| group.context())
                .flatten();
            if let Some(mut ctx) = context {
                if self.estimate_opaque(&mut ctx.parts) {
                    let renamed = ctx.parts.iter().any(Part::has_renamed_blank_node);
                    if let Some(chain) = self.chain(ctx) {
                        return if renamed { whole(chain) } else { chain };
                    }
                    opaque_tried = true;
                }
            }
        }
        let mut group = Group::default();
        let absorbed = group.absorb(&pattern, false);
        if absorbed {
            if joined {
                // Joined with other parts: the planner sees them and may look this group up
                // per solution of one of them, from the variables it shares, which an order
                // chosen here without them cannot do. Hash-joined whole instead (tried), the
                // 2,000-row group of NZa Wmg 2.1 (`?i startDatum ?s . ?i isAbout ?c`, every
                // dated thing of the provider) was read in full for 600 indications, and ZK
                // 2.1, 7.1, 8.1 and 11.x ran 4 to 12 times slower.
                return pattern;
            }
            let Some(ctx) = group.context() else {
                // A group as it is: nothing in it has a scope of its own to order.
                return pattern;
            };
            let renamed = ctx.parts.iter().any(Part::has_renamed_blank_node);
            let Some(chain) = self.chain(ctx) else {
                return pattern;
            };
            return if renamed { whole(chain) } else { chain };
        }
        use GraphPattern as P;
        let boxed = |p: Box<GraphPattern>, joined: bool| Box::new(self.order(*p, joined));
        let same_group = |p: Box<GraphPattern>, joined: bool| {
            Box::new(self.order_in(*p, joined, opaque && !opaque_tried))
        };
        match pattern {
            P::Join { left, right } => P::Join {
                left: boxed(left, true),
                right: boxed(right, true),
            },
            // Looked up per solution of `left`: `right` sees its values. Such a lookup, and an
            // `OPTIONAL`, may itself be run per solution of what it is joined with.
            P::Lateral { left, right } => P::Lateral {
                left: boxed(left, joined),
                right,
            },
            P::LeftJoin {
                left,
                right,
                expression,
            } => P::LeftJoin {
                left: boxed(left, joined),
                // Possibly run per solution of `left`.
                right: boxed(right, true),
                expression,
            },
            P::Minus { left, right } => P::Minus {
                left: boxed(left, false),
                right: boxed(right, false),
            },
            P::Union { left, right } => P::Union {
                left: boxed(left, joined),
                right: boxed(right, joined),
            },
            P::Filter { expr, inner } => P::Filter {
                expr,
                inner: same_group(inner, joined),
            },
            P::Extend {
                inner,
                variable,
                expression,
            } => P::Extend {
                inner: same_group(inner, joined),
                variable,
                expression,
            },
            // The planner never runs a sub-select per solution of something else (sparopt
            // 0.3.9, `is_fit_for_for_loop_join`): below one, a group is evaluated once.
            P::Project { inner, variables } => P::Project {
                inner: boxed(inner, false),
                variables,
            },
            P::Distinct { inner } => P::Distinct {
                inner: boxed(inner, false),
            },
            P::Reduced { inner } => P::Reduced {
                inner: boxed(inner, false),
            },
            P::OrderBy { inner, expression } => P::OrderBy {
                inner: boxed(inner, false),
                expression,
            },
            P::Slice {
                inner,
                start,
                length,
            } => P::Slice {
                inner: boxed(inner, false),
                start,
                length,
            },
            P::Group {
                inner,
                variables,
                aggregates,
            } => P::Group {
                inner: boxed(inner, false),
                variables,
                aggregates,
            },
            other => other,
        }
    }

    /// The chain of a group: from the start whose plan has the smallest estimated sum of
    /// intermediate solutions, expressions as soon as they may run, then the part that keeps the
    /// running count smallest (one joined to what is bound when there is one).
    fn chain(&self, ctx: Context<'_>) -> Option<GraphPattern> {
        let (steps, cost, _) = self.best(&ctx, Mode::Best)?;
        // The baseline the plan must beat by far: the parts in the order written, costed the
        // same way, or, with sub-selects, what the planner does with them (it never looks
        // anything up from a sub-select: the other parts first, then a hash join with it).
        // Only a plan that the counts say is far cheaper replaces the planner's own. The
        // model knows nothing of what a `BIND` or `FILTER` keeps, and a close call is where
        // it misleads (tried without this: ZK 11.x and NZa kostenonderzoek 1.1 ran 10 to 70
        // times slower).
        let baseline = if ctx.parts.iter().any(Part::is_opaque) {
            self.best(&ctx, Mode::OpaqueLast)?.1
        } else {
            self.plan(&ctx, None, Mode::Written).1
        };
        if cost * IMPROVEMENT > baseline {
            return None;
        }
        let parts = ctx
            .parts
            .into_iter()
            .map(|part| match part {
                Part::Opaque {
                    pattern,
                    binds,
                    certain,
                    rows,
                } => Part::Opaque {
                    // Evaluated once, whether it starts the chain or is hash-joined to it.
                    pattern: Cow::Owned(self.order(pattern.into_owned(), false)),
                    binds,
                    certain,
                    rows,
                },
                other => other,
            })
            .collect();
        Some(build(parts, steps))
    }

    /// Estimates the solutions of each sub-select of `group`; false when one cannot be.
    fn estimate_opaque(&self, parts: &mut [Part<'_>]) -> bool {
        for part in parts {
            if let Part::Opaque { pattern, rows, .. } = part {
                match self.rows(pattern) {
                    Some(n) => *rows = n,
                    None => return false,
                }
            }
        }
        true
    }

    /// The cheapest plan of `ctx` over every start `mode` allows.
    ///
    /// A start whose plan cannot cost less than the cheapest found so far is not planned: a
    /// plan costs at least the solutions after its first part, which are at least the start's
    /// own estimate with at most the `BIND` variables known, times the share every `FILTER`
    /// keeps (the same expressions may run before any start). A triple's, path's or table's
    /// estimate only falls as more is bound; a sub-select's may rise, so one is always planned.
    /// Of equally cheap plans the first is kept, as before. Why: every start was planned in
    /// full, which was most of the cost of ordering the smallest official questions.
    fn best(&self, ctx: &Context, mode: Mode) -> Option<(Vec<Step>, f64, f64)> {
        let filters = ctx
            .parts
            .iter()
            .filter(|p| matches!(p, Part::Filter(_)))
            .count();
        // A hair below the bound, so that rounding never skips a plan that is cheaper.
        let kept = FILTER_KEEPS.powi(i32::try_from(filters).unwrap_or(i32::MAX)) * (1.0 - 1e-9);
        let mut best: Option<(Vec<Step>, f64, f64)> = None;
        for (start, part) in ctx.parts.iter().enumerate() {
            if part.is_expression() || mode == Mode::OpaqueLast && part.is_opaque() {
                continue;
            }
            if let Some((_, cheapest, _)) = &best {
                if !part.is_opaque() && self.cached(ctx, start, ctx.extended) * kept >= *cheapest {
                    continue;
                }
            }
            let plan = self.plan(ctx, Some(start), mode);
            if best
                .as_ref()
                .is_none_or(|(_, cheapest, _)| plan.1.total_cmp(cheapest).is_lt())
            {
                best = Some(plan);
            }
        }
        best
    }

    /// The estimated solutions of a sub-select (or of what a sub-select is made of), from its
    /// cheapest plan; `None` for a shape this does not estimate.
    fn rows(&self, pattern: &GraphPattern) -> Option<f64> {
        use GraphPattern as P;
        match pattern {
            P::Project { inner, .. }
            | P::Distinct { inner }
            | P::Reduced { inner }
            | P::Filter { inner, .. }
            | P::Extend { inner, .. }
            | P::LeftJoin { left: inner, .. } => self.rows(inner),
            // An `OPTIONAL` made a lookup (`lateral.rs`): each solution of `left` at least once.
            P::Lateral { left, right } if matches!(**right, P::LeftJoin { .. }) => self.rows(left),
            P::Union { left, right } => Some(self.rows(left)? + self.rows(right)?),
            P::Values { bindings, .. } => Some(bindings.len() as f64),
            P::Bgp { patterns } if patterns.is_empty() => Some(1.0),
            // The keyed "total" row of `union.rs`: distinct keys joined with `BIND`s only.
            // (Any join estimated as the product of its sides let more groups be ordered:
            // Zorgkantoren 2.1 and 7.1 ran 35-40 % faster, but IGJ 1.1.1 joined a path of
            // length zero whole, every node of the data, and took 190 times as long.)
            P::Join { left, right } if super::union::only_binds(right) => self.rows(left),
            _ => {
                let mut group = Group::default();
                if !group.absorb(pattern, false) || group.parts.iter().all(Part::is_expression) {
                    return None;
                }
                // As written: one plan, where the cheapest would try every start (the
                // estimate is only compared with the rest of the group).
                let ctx = Context::of(group.parts)?;
                Some(self.plan(&ctx, None, Mode::Written).2)
            }
        }
    }

    /// The steps of a plan starting at `start`, its cost (the sum of the estimated solutions
    /// after each part) and its estimated solutions.
    fn plan(&self, ctx: &Context, start: Option<usize>, mode: Mode) -> (Vec<Step>, f64, f64) {
        let Context {
            parts,
            never,
            binds,
            reads,
            extends,
            ..
        } = ctx;
        let written = mode == Mode::Written;
        let mut done = vec![false; parts.len()];
        let mut known = Known::default();
        let mut steps = Vec::new();
        let (mut rows, mut cost) = (1.0_f64, 0.0_f64);
        let mut first = start;
        loop {
            // Expressions whose reads are known, in the order written.
            let mut progress = true;
            while progress {
                progress = false;
                for (i, part) in parts.iter().enumerate() {
                    let ready = !done[i]
                        && part.is_expression()
                        && reads[i].is_subset(known.determined.union(*never));
                    if ready {
                        done[i] = true;
                        if let Some(v) = extends[i] {
                            // A `BIND` variable is bound, or left unbound the same way
                            // whatever comes later.
                            known.bound.insert(v);
                            known.determined.insert(v);
                        }
                        if matches!(part, Part::Filter(_)) {
                            rows *= FILTER_KEEPS;
                        }
                        steps.push(Step::Expression(i));
                        progress = true;
                    }
                }
            }
            let extends_pending = extends
                .iter()
                .enumerate()
                .filter(|(i, _)| !done[*i])
                .filter_map(|(_, v)| v.map(VarSet::one))
                .collect();
            let others_pending = parts
                .iter()
                .enumerate()
                .any(|(i, p)| !done[i] && !p.is_expression() && !p.is_opaque());
            let candidates: Vec<(usize, f64, bool)> = parts
                .iter()
                .enumerate()
                .filter(|(i, part)| {
                    !done[*i]
                        && !part.is_expression()
                        && !binds[*i].intersects(extends_pending)
                        && may_look_up(ctx, *i, known)
                        && first.is_none_or(|f| f == *i)
                        && !(mode == Mode::OpaqueLast && part.is_opaque() && others_pending)
                })
                .map(|(i, _)| {
                    let connected = binds[i].intersects(known.bound);
                    (i, self.cached(ctx, i, known.bound), connected)
                })
                .collect();
            first = None;
            let any_connected = candidates.iter().any(|c| c.2);
            let Some((i, estimate, connected)) = candidates
                .iter()
                .filter(|c| written || c.2 || !any_connected)
                .min_by(|a, b| {
                    if written {
                        a.0.cmp(&b.0)
                    } else {
                        a.1.total_cmp(&b.1)
                    }
                })
                .copied()
            else {
                break;
            };
            done[i] = true;
            learn(ctx, i, &mut known);
            rows *= estimate.max(1e-6);
            cost += rows;
            if let Part::Opaque { rows: own, .. } = &parts[i] {
                // Evaluated in full once, whatever it is joined with.
                cost += own;
            }
            steps.push(
                if steps.is_empty() || (connected && !parts[i].is_opaque()) {
                    Step::Lookup(i)
                } else {
                    Step::Join(i)
                },
            );
        }
        // What could not be looked up (a path of length zero from a term a table or a `BIND`
        // gave) is joined as written, then the remaining expressions.
        for (i, part) in parts.iter().enumerate() {
            if !done[i] && !part.is_expression() {
                done[i] = true;
                steps.push(Step::Join(i));
                cost += rows * self.estimate(part, &|_| false);
            }
        }
        steps.extend((0..parts.len()).filter(|&i| !done[i]).map(Step::Expression));
        (steps, cost, rows)
    }

    /// [`Orderer::estimate`] of part `i` with `bound` known, through the context's cache.
    fn cached(&self, ctx: &Context, i: usize, bound: VarSet) -> f64 {
        let key = bound.intersection(ctx.binds[i]);
        if let Some((_, n)) = ctx.cache.0.borrow()[i].iter().find(|(k, _)| *k == key) {
            return *n;
        }
        let n = self.estimate(&ctx.parts[i], &|v| ctx.has(key, v));
        ctx.cache.0.borrow_mut()[i].push((key, n));
        n
    }

    /// The estimated solutions of `part` per solution of what is bound.
    fn estimate(&self, part: &Part, bound: &dyn Fn(&Variable) -> bool) -> f64 {
        let is_bound = |t: &TermPattern| match t {
            TermPattern::Variable(v) => bound(v),
            _ => true,
        };
        match part {
            Part::Triple(t) => match &t.predicate {
                NamedNodePattern::NamedNode(p) => self.triple(
                    &t.subject,
                    is_bound(&t.subject),
                    p,
                    &t.object,
                    is_bound(&t.object),
                ),
                NamedNodePattern::Variable(_) => {
                    let mut n = self.statistics.total();
                    for end in [&t.subject, &t.object] {
                        if is_bound(end) {
                            n /= 1_000.0;
                        }
                    }
                    n
                }
            },
            Part::Alternatives(branches) => branches
                .iter()
                .map(|t| self.estimate(&Part::Triple(t.clone()), bound))
                .sum(),
            Part::Path {
                subject,
                path,
                object,
                ..
            } => self.path(subject, is_bound(subject), path, object, is_bound(object)),
            Part::Values {
                variables,
                bindings,
            } => {
                let mut n = bindings.len() as f64;
                for (i, v) in variables.iter().enumerate() {
                    if bound(v) {
                        let distinct: std::collections::HashSet<_> =
                            bindings.iter().map(|r| &r[i]).collect();
                        n /= distinct.len().max(1) as f64;
                    }
                }
                n
            }
            Part::Extend { .. } | Part::Filter(_) => 1.0,
            // Hash-joined on what is bound: taken as a key (one match each).
            Part::Opaque { binds, rows, .. } => {
                if binds.iter().any(bound) {
                    1.0
                } else {
                    *rows
                }
            }
        }
    }

    /// A triple with a constant predicate: the matches of its constants, divided by the
    /// distinct values of each end a variable already bound.
    fn triple(
        &self,
        subject: &TermPattern,
        subject_bound: bool,
        predicate: &NamedNode,
        object: &TermPattern,
        object_bound: bool,
    ) -> f64 {
        let (s, o) = (constant(subject), constant(object));
        let mut n = self.statistics.matching(s.as_ref(), predicate, o.as_ref());
        let (subjects, objects) = self.statistics.distinct(predicate);
        if subject_bound && s.is_none() {
            n /= subjects;
        }
        if object_bound && o.is_none() {
            n /= objects;
        }
        n
    }

    fn path(
        &self,
        subject: &TermPattern,
        subject_bound: bool,
        path: &PropertyPathExpression,
        object: &TermPattern,
        object_bound: bool,
    ) -> f64 {
        use PropertyPathExpression as E;
        match path {
            E::NamedNode(p) => self.triple(subject, subject_bound, p, object, object_bound),
            E::Reverse(p) => self.path(object, object_bound, p, subject, subject_bound),
            E::Alternative(a, b) => {
                self.path(subject, subject_bound, a, object, object_bound)
                    + self.path(subject, subject_bound, b, object, object_bound)
            }
            E::ZeroOrMore(p) | E::OneOrMore(p) | E::ZeroOrOne(p) => {
                let step = self.path(subject, subject_bound, p, object, object_bound);
                if subject_bound && object_bound {
                    step.min(1.0)
                } else {
                    // A few steps on, and the start itself.
                    (step + 1.0) * 4.0
                }
            }
            E::Sequence(_, _) | E::NegatedPropertySet(_) => self.statistics.total(),
        }
    }
}

/// The constant of a triple end, or `None` for a variable.
fn constant(term: &TermPattern) -> Option<Term> {
    match term {
        TermPattern::NamedNode(n) => Some(n.clone().into()),
        TermPattern::Literal(l) => Some(l.clone().into()),
        _ => None,
    }
}

/// What is known after part `i` (a triple, path, table or sub-select) joined the chain; a
/// variable only a sub-select binds (`exclusive`: one part binds it) keeps the value, or the
/// absence of one, the sub-select gave it.
fn learn(ctx: &Context, i: usize, known: &mut Known) {
    let (part, binds) = (&ctx.parts[i], ctx.binds[i]);
    known.bound = known.bound.union(binds);
    known.determined = known.determined.union(ctx.certain[i]);
    if part.is_opaque() {
        known.determined = known.determined.union(binds.intersection(ctx.exclusive));
    }
    if matches!(
        part,
        Part::Triple(_) | Part::Alternatives(_) | Part::Path { .. }
    ) {
        known.nodes = known.nodes.union(binds);
    }
}

/// Whether part `i` may be looked up from what is known: a path that may have length zero only
/// from ends bound to nodes of the data, or when its other end is a variable a triple of the
/// group (`nodes`) has as subject or object.
///
/// Why the second: from a term outside the data (a `VALUES` row, a `BIND`) the path gives the
/// pair of that term with itself, where the join gives nothing; the triple then keeps only
/// nodes of the data at the other end, which removes exactly that pair. The ledger questions
/// (Zorgkantoren 8.x, NZa kostenonderzoek) list their account headings in `VALUES` and walk
/// `?account partOf* ?heading` from them to the postings.
fn may_look_up(ctx: &Context, i: usize, known: Known) -> bool {
    let (Part::Path { zero: true, .. }, Some([subject, object])) = (&ctx.parts[i], ctx.ends[i])
    else {
        return true;
    };
    let from_node =
        |end: End| end.is_none_or(|v| !known.bound.contains(v) || known.nodes.contains(v));
    let kept_to_nodes = |end: End| end.is_some_and(|v| ctx.nodes.contains(v));
    (from_node(subject) || kept_to_nodes(object)) && (from_node(object) || kept_to_nodes(subject))
}

/// One step of a plan: an index into the group's parts.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Looked up per solution of the chain so far (or the chain's start).
    Lookup(usize),
    /// Joined with the chain so far (it shares no variable with it).
    Join(usize),
    /// A `BIND` or `FILTER` applied to the chain so far.
    Expression(usize),
}

/// The chain of `steps` over `parts`.
fn build(parts: Vec<Part<'_>>, steps: Vec<Step>) -> GraphPattern {
    let mut slots: Vec<Option<Part<'_>>> = parts.into_iter().map(Some).collect();
    let mut chain: Option<GraphPattern> = None;
    for step in steps {
        let (Step::Lookup(i) | Step::Join(i) | Step::Expression(i)) = step;
        let Some(part) = slots[i].take() else {
            continue;
        };
        let empty = || GraphPattern::Bgp {
            patterns: Vec::new(),
        };
        chain = Some(match (step, part) {
            (
                _,
                Part::Extend {
                    variable,
                    expression,
                },
            ) => GraphPattern::Extend {
                inner: Box::new(chain.unwrap_or_else(empty)),
                variable,
                expression,
            },
            (_, Part::Filter(expr)) => GraphPattern::Filter {
                expr,
                inner: Box::new(chain.unwrap_or_else(empty)),
            },
            // A sub-select after the start: a hash join, with the chain sealed so the planner
            // cannot run it once per solution of the sub-select.
            (Step::Join(_), part @ Part::Opaque { .. }) => match chain {
                None => part.into_pattern(),
                Some(left) => super::lateral::plain(sealed(left), part.into_pattern()),
            },
            (Step::Lookup(_), part) => match chain {
                None => part.into_pattern(),
                Some(left) => super::lateral::lateral(left, part.into_pattern()),
            },
            (_, part) => match chain {
                None => part.into_pattern(),
                Some(left) => super::lateral::plain(left, part.into_pattern()),
            },
        });
    }
    chain.unwrap_or(GraphPattern::Bgp {
        patterns: Vec::new(),
    })
}

/// A chain as a sub-select of all its variables: one unit the planner evaluates once.
fn sealed(chain: GraphPattern) -> GraphPattern {
    let variables = scope_of(&chain).possible.into_iter().collect();
    GraphPattern::Project {
        inner: Box::new(chain),
        variables,
    }
}

/// A chain projected on its variables (see the module documentation).
fn whole(chain: GraphPattern) -> GraphPattern {
    let variables = scope_of(&chain)
        .possible
        .into_iter()
        .filter(|v| !v.as_str().starts_with(BLANK_NODE_PREFIX))
        .collect();
    GraphPattern::Project {
        inner: Box::new(chain),
        variables,
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode, Quad, Term};
    use oxigraph::sparql::QueryResults;
    use oxigraph::store::Store;
    use spargebra::algebra::GraphPattern;
    use spargebra::term::{NamedNodePattern, TermPattern};
    use spargebra::Query;

    // Counts read off the test store itself, as the node's copy does.
    use crate::test_support::parse;
    use crate::CountedStatistics as Counted;

    const EX: &str = "http://example.org/";

    fn iri(name: &str) -> NamedNode {
        NamedNode::new_unchecked(format!("{EX}{name}"))
    }

    /// 50 things with three tags each, one of which carries id "7"; a chain a → b → c over `partOf`; an age that is
    /// a number and one that is not.
    fn store() -> Store {
        let store = Store::new().unwrap();
        let add = |s: NamedNode, p: &str, o: Term| {
            store
                .insert(&Quad::new(s, iri(p), o, GraphName::DefaultGraph))
                .unwrap();
        };
        for i in 0..50 {
            add(iri(&format!("t{i}")), "type", iri("Thing").into());
            add(
                iri(&format!("t{i}")),
                "id",
                Literal::new_simple_literal(i.to_string()).into(),
            );
            for tag in 0..3 {
                add(iri(&format!("t{i}")), "tag", iri(&format!("g{tag}")).into());
            }
        }
        add(iri("a"), "partOf", iri("b").into());
        add(iri("b"), "partOf", iri("c").into());
        add(iri("t7"), "at", iri("a").into());
        add(iri("t8"), "at", iri("c").into());
        add(iri("p1"), "age", Literal::from(41).into());
        add(iri("p2"), "age", Literal::new_simple_literal("old").into());
        add(iri("p3"), "age", Literal::from(42).into());
        store
    }

    fn rows(store: &Store, query: Query) -> Vec<String> {
        let QueryResults::Solutions(solutions) = crate::evaluator()
            .for_query(query)
            .on_store(store)
            .execute()
            .unwrap()
        else {
            panic!("not a SELECT");
        };
        let mut rows: Vec<String> = solutions
            .map(|s| {
                let s = s.unwrap();
                let mut row: Vec<String> = s
                    .iter()
                    .filter(|(v, _)| !v.as_str().starts_with(super::BLANK_NODE_PREFIX))
                    .map(|(v, t)| format!("{v}={t}"))
                    .collect();
                row.sort();
                row.join(" ")
            })
            .collect();
        rows.sort();
        rows
    }

    /// The query ordered, with the same solutions as written (unoptimised and optimised).
    fn ordered(store: &Store, text: &str) -> Query {
        let written = parse(&text.replace("ex:", EX).replace("EX>", ">"));
        let ordered = super::order_joins(written.clone(), &Counted(store));
        let expected = {
            let QueryResults::Solutions(solutions) = crate::evaluator()
                .without_optimizations()
                .for_query(written.clone())
                .on_store(store)
                .execute()
                .unwrap()
            else {
                panic!("not a SELECT");
            };
            solutions.count()
        };
        assert_eq!(rows(store, ordered.clone()), rows(store, written), "{text}");
        assert_eq!(rows(store, ordered.clone()).len(), expected, "{text}");
        ordered
    }

    fn where_of(query: &Query) -> &GraphPattern {
        let Query::Select { pattern, .. } = query else {
            panic!("not a SELECT");
        };
        match pattern {
            GraphPattern::Project { inner, .. } => inner,
            other => other,
        }
    }

    /// The first part of a chain: the left end of its lookups.
    fn start(pattern: &GraphPattern) -> &GraphPattern {
        match pattern {
            GraphPattern::Lateral { left, .. }
            | GraphPattern::Join { left, .. }
            | GraphPattern::Filter { inner: left, .. }
            | GraphPattern::Extend { inner: left, .. } => start(left),
            other => other,
        }
    }

    #[test]
    fn a_filter_is_taken_to_keep_a_share_of_the_solutions() {
        // 50 ids, then a filter on them: the estimate after it is a share of the 50 (the
        // counts know nothing of values; reading the date a filter compares before lookups
        // that keep every solution is what makes the official 8.1 and ledger chains cheaper).
        let store = store();
        let text = format!("SELECT * {{ ?t <{EX}id> ?id FILTER(?id > \"3\") }}");
        let query = parse(&text);
        let mut group = super::Group::default();
        assert!(group.absorb(where_of(&query), false));
        let ctx = super::Context::of(group.parts).unwrap();
        let orderer = super::Orderer {
            statistics: &Counted(&store),
        };
        let (_, _, rows) = orderer.plan(&ctx, None, super::Mode::Written);
        assert!((rows - 50.0 * super::FILTER_KEEPS).abs() < 1e-9, "{rows}");
    }

    #[test]
    fn a_chain_starts_where_the_data_has_fewest_solutions() {
        let store = store();
        // As written, the type comes first; Oxigraph's planner counts a constant object as
        // 1,000 either way. The data has 50 things and one id "7".
        let query = ordered(
            &store,
            "SELECT ?t { ?t <ex:typeEX> <ex:ThingEX> . ?t <ex:idEX> \"7\" }",
        );
        let GraphPattern::Bgp { patterns } = start(where_of(&query)) else {
            panic!("no triple at the start: {query}");
        };
        assert_eq!(
            patterns[0].predicate,
            NamedNodePattern::NamedNode(iri("id")),
            "{query}"
        );
        assert!(
            matches!(where_of(&query), GraphPattern::Lateral { .. }),
            "not a chain of lookups: {query}"
        );
    }

    #[test]
    fn a_bind_runs_once_what_it_reads_is_bound_and_a_filter_on_it_follows() {
        let store = store();
        let query = ordered(
            &store,
            "SELECT ?t ?n ?g { ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> . \
             ?t <ex:idEX> \"7\" . ?t <ex:idEX> ?id . BIND(STRLEN(?id) AS ?n) FILTER(?n = 1) }",
        );
        // Written, every tag of every thing comes first; ordered, the one thing with id "7",
        // its id's length and the FILTER, then its three tags.
        let GraphPattern::Lateral { left, right } = where_of(&query) else {
            panic!("{query}");
        };
        assert!(
            matches!(left.as_ref(), GraphPattern::Filter { .. }),
            "{query}"
        );
        assert!(
            matches!(right.as_ref(), GraphPattern::Bgp { .. }),
            "{query}"
        );
        assert_eq!(rows(&store, query).len(), 3);
    }

    #[test]
    fn a_path_of_length_zero_is_not_looked_up_from_a_term_outside_the_data() {
        let store = store();
        // As a join, `?x partOf* ?y` gives (n, n) only for nodes n of the data; looked up from
        // the absent term, SPARQL 1.1 (§18.4, ALP) gives (absent, absent). Oxigraph 0.5.13
        // gives nothing there either way, so the plan itself is checked: the path is joined,
        // not looked up per row of the table.
        let query = ordered(
            &store,
            "SELECT * { VALUES ?x { <ex:absentEX> } ?x <ex:partOfEX>* ?y }",
        );
        assert!(
            matches!(where_of(&query), GraphPattern::Join { right, .. }
                if matches!(right.as_ref(), GraphPattern::Path { .. })),
            "{query}"
        );
        assert_eq!(rows(&store, query).len(), 0);
        // From a, it reaches a, b and c.
        let query = ordered(
            &store,
            "SELECT * { VALUES ?x { <ex:absentEX> <ex:aEX> } ?x <ex:partOfEX>* ?y . ?t <ex:atEX> ?y }",
        );
        assert_eq!(rows(&store, query).len(), 2);
        let query = ordered(
            &store,
            "SELECT * { ?t <ex:atEX> ?x . ?x <ex:partOfEX>* ?y . ?y <ex:partOfEX>* <ex:cEX> }",
        );
        // t7 at a: a, b, c; t8 at c: c.
        assert_eq!(rows(&store, query).len(), 4);
    }

    #[test]
    fn a_path_of_length_zero_is_looked_up_from_a_table_when_a_triple_keeps_its_other_end() {
        // The ledger questions walk `?account partOf* ?heading` from their `VALUES` headings:
        // from the absent term the path gives (absent, absent), which `?t at ?y` removes.
        let store = store();
        for i in 0..100 {
            for (p, o) in [("at", "z"), ("partOf", "r")] {
                let quad = Quad::new(
                    iri(&format!("u{i}")),
                    iri(p),
                    iri(o),
                    GraphName::DefaultGraph,
                );
                store.insert(&quad).unwrap();
            }
        }
        let query = ordered(
            &store,
            "SELECT * { ?t <ex:atEX> ?y . ?x <ex:partOfEX>* ?y . VALUES ?x { <ex:absentEX> <ex:aEX> } }",
        );
        fn path_looked_up(pattern: &GraphPattern) -> bool {
            match pattern {
                GraphPattern::Lateral { left, right } => {
                    matches!(right.as_ref(), GraphPattern::Path { .. }) || path_looked_up(left)
                }
                GraphPattern::Project { inner, .. } => path_looked_up(inner),
                _ => false,
            }
        }
        assert!(path_looked_up(where_of(&query)), "{query}");
        // From a, it reaches a, b and c; t7 is at a.
        assert_eq!(rows(&store, query).len(), 2);
        // Without the triple nothing removes (absent, absent): joined, not looked up.
        let query = ordered(
            &store,
            "SELECT * { ?x <ex:partOfEX>* ?y . VALUES ?x { <ex:absentEX> <ex:aEX> } }",
        );
        assert!(!path_looked_up(where_of(&query)), "{query}");
    }

    #[test]
    fn a_triple_on_a_failed_bind_joins_every_value_as_written() {
        let store = store();
        // "old" + 1 fails: ?b stays unbound and the second age triple matches every age.
        let query = ordered(
            &store,
            "SELECT * { ?p <ex:ageEX> ?a . BIND(?a + 1 AS ?b) ?q <ex:ageEX> ?b }",
        );
        assert_eq!(rows(&store, query).len(), 1 + 3);
    }

    #[test]
    fn a_filter_reading_a_variable_bound_later_in_the_group_is_not_moved() {
        let store = store();
        let text = "SELECT * { { ?t <ex:atEX> ?l FILTER(!BOUND(?x)) } ?l <ex:partOfEX> ?x }";
        let query = ordered(&store, text);
        let written = parse(&text.replace("ex:", EX).replace("EX>", ">"));
        assert_eq!(where_of(&query), where_of(&written), "reordered: {query}");
    }

    #[test]
    fn a_union_of_single_triples_is_a_part_the_chain_may_start_at() {
        let store = store();
        // The ledger questions' `{ ?r a Grootboekrubriek } UNION { ?r a Grootboekrekening }`:
        // two ids of 50 things, where the group as written walks every tag of every thing
        // first and looks the union up for each.
        let query = ordered(
            &store,
            "SELECT ?t ?g { ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> . \
             { ?t <ex:idEX> \"3\" } UNION { ?t <ex:idEX> \"4\" } }",
        );
        assert!(
            matches!(start(where_of(&query)), GraphPattern::Union { .. }),
            "the chain does not start at the union: {query}"
        );
        assert_eq!(rows(&store, query).len(), 6);
    }

    #[test]
    fn a_union_of_triples_that_bind_different_variables_is_no_part() {
        // `?t` alone in one branch, `?t` and `?x` in the other: `?x` is not bound in every
        // solution of the union, so it cannot be a part that binds it.
        let text = format!("SELECT * {{ {{ ?t <{EX}id> \"3\" }} UNION {{ ?t <{EX}at> ?x }} }}");
        assert!(super::alternatives(where_of(&parse(&text))).is_none());
        let text = format!(
            "SELECT * {{ {{ ?t <{EX}id> \"3\" }} UNION {{ {{ ?t <{EX}id> \"4\" }} UNION \
             {{ ?t <{EX}type> <{EX}Thing> }} }} }}"
        );
        assert_eq!(
            super::alternatives(where_of(&parse(&text))).map(|b| b.len()),
            Some(3)
        );
    }

    #[test]
    fn parts_that_meet_only_through_the_rest_of_the_query_are_left_to_the_planner() {
        let store = store();
        let text = "SELECT * { ?t <ex:idEX> ?i . ?p <ex:ageEX> ?a }";
        let query = ordered(&store, text);
        let written = parse(&text.replace("ex:", EX).replace("EX>", ">"));
        assert_eq!(where_of(&query), where_of(&written));
    }

    #[test]
    fn blank_nodes_of_a_sequence_path_become_variables_of_the_chain() {
        let store = store();
        let query = ordered(
            &store,
            "SELECT ?t ?z ?g { ?t <ex:tagEX> ?g . ?t <ex:atEX>/<ex:partOfEX>/<ex:partOfEX> ?z . \
             ?t <ex:idEX> \"7\" }",
        );
        assert_eq!(rows(&store, query.clone()).len(), 3);
        let mut variables = Vec::new();
        // Projected on the query's variables: the blank nodes are no part of a solution.
        let GraphPattern::Project {
            inner,
            variables: projected,
        } = where_of(&query)
        else {
            panic!("not projected: {query}");
        };
        assert!(
            projected
                .iter()
                .all(|v| !v.as_str().starts_with(super::BLANK_NODE_PREFIX)),
            "{query}"
        );
        let mut pattern = inner.as_ref();
        while let GraphPattern::Lateral { left, right } = pattern {
            if let GraphPattern::Bgp { patterns } = right.as_ref() {
                for t in patterns {
                    for end in [&t.subject, &t.object] {
                        assert!(!matches!(end, TermPattern::BlankNode(_)), "{query}");
                        if let TermPattern::Variable(v) = end {
                            variables.push(v.as_str().to_owned());
                        }
                    }
                }
            }
            pattern = left;
        }
        assert!(
            variables
                .iter()
                .any(|v| v.starts_with(super::BLANK_NODE_PREFIX)),
            "{query}"
        );
    }

    #[test]
    fn an_order_written_about_as_well_is_kept() {
        let store = store();
        let text = "SELECT ?t { ?t <ex:idEX> \"7\" . ?t <ex:typeEX> <ex:ThingEX> }";
        let query = ordered(&store, text);
        let written = parse(&text.replace("ex:", EX).replace("EX>", ">"));
        assert_eq!(where_of(&query), where_of(&written));
    }

    #[test]
    fn a_sub_select_far_smaller_than_the_rest_starts_the_chain() {
        let store = store();
        // The planner would plan the type and tags on their own (50 things, 150 tags) and
        // hash-join the one thing the sub-select gives; from it, three lookups suffice.
        let query = ordered(
            &store,
            "SELECT * { { SELECT ?t { ?t <ex:idEX> \"7\" } } \
             ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> }",
        );
        assert!(
            matches!(start(where_of(&query)), GraphPattern::Project { .. }),
            "{query}"
        );
        assert!(
            matches!(where_of(&query), GraphPattern::Lateral { .. }),
            "{query}"
        );
        assert_eq!(rows(&store, query).len(), 3);
    }

    #[test]
    fn a_union_of_sub_selects_is_a_part_evaluated_once() {
        let store = store();
        // The keyed "total" row of `union.rs` is such a union; from its two things, the tags
        // and types are looked up instead of read for all 50.
        let query = ordered(
            &store,
            "SELECT * { ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> \
             { { SELECT ?t { ?t <ex:idEX> \"7\" } } \
             UNION { SELECT ?t { ?t <ex:idEX> \"8\" } } } }",
        );
        assert!(
            matches!(start(where_of(&query)), GraphPattern::Union { .. }),
            "{query}"
        );
        assert_eq!(rows(&store, query).len(), 6);
    }

    #[test]
    fn a_sub_select_sharing_no_variable_keeps_the_group_reorderable() {
        let store = store();
        // The "total" row of a distributed UNION: one row, no variable in common.
        let query = ordered(
            &store,
            "SELECT * { { SELECT (\"all\" AS ?v) {} } { SELECT ?t { ?t <ex:idEX> \"7\" } } \
             ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> }",
        );
        // Either sub-select may start (both are one row); the tags are looked up per thing.
        assert!(
            format!("{:?}", where_of(&query)).contains("Lateral"),
            "not reordered: {query}"
        );
        assert_eq!(rows(&store, query).len(), 3);
    }

    #[test]
    fn a_filter_on_what_only_a_sub_select_may_bind_runs_right_after_it() {
        let store = store();
        // t9 is nowhere: ?a stays unbound and the filter keeps it, before its tags are read.
        let query = ordered(
            &store,
            "SELECT * { { SELECT ?t ?a { ?t <ex:idEX> \"9\" OPTIONAL { ?t <ex:atEX> ?a } } } \
             ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> FILTER(!BOUND(?a)) }",
        );
        let GraphPattern::Lateral { left, .. } = where_of(&query) else {
            panic!("{query}");
        };
        assert!(
            matches!(start(left), GraphPattern::Project { .. }),
            "{query}"
        );
        let mut below = left.as_ref();
        while let GraphPattern::Lateral { left, .. } = below {
            below = left;
        }
        assert!(
            matches!(below, GraphPattern::Filter { .. }),
            "the filter is not on the sub-select: {query}"
        );
        assert_eq!(rows(&store, query).len(), 3);
        // t7 is at a: the filter removes it.
        let query = ordered(
            &store,
            "SELECT * { { SELECT ?t ?a { ?t <ex:idEX> \"7\" OPTIONAL { ?t <ex:atEX> ?a } } } \
             ?t <ex:tagEX> ?g . ?t <ex:typeEX> <ex:ThingEX> FILTER(!BOUND(?a)) }",
        );
        assert_eq!(rows(&store, query).len(), 0);
    }

    #[test]
    fn a_filter_waits_for_every_part_that_may_bind_what_it_reads() {
        let store = store();
        // ?a: unbound from the sub-select for t9, then bound by the tag triple; the filter,
        // applied to the whole group, must see the tag.
        let query = ordered(
            &store,
            "SELECT * { { SELECT ?t ?a { ?t <ex:idEX> \"9\" OPTIONAL { ?t <ex:atEX> ?a } } } \
             ?t <ex:tagEX> ?a . ?t <ex:typeEX> <ex:ThingEX> FILTER(BOUND(?a)) }",
        );
        let mut filtered = None;
        let mut below = where_of(&query);
        loop {
            match below {
                GraphPattern::Filter { inner, .. } => filtered = Some(inner.as_ref()),
                GraphPattern::Lateral { left, .. } => {
                    below = left;
                    continue;
                }
                _ => {}
            }
            break;
        }
        let Some(GraphPattern::Lateral { right, .. }) = filtered else {
            panic!("the filter is not after a lookup: {query}");
        };
        assert!(
            matches!(right.as_ref(), GraphPattern::Bgp { patterns }
                if patterns[0].predicate == NamedNodePattern::NamedNode(iri("tag"))),
            "the filter is not after the tag: {query}"
        );
        assert_eq!(rows(&store, query).len(), 3);
    }

    #[test]
    fn a_nested_filter_on_what_a_sub_select_may_leave_unbound_and_a_triple_binds_keeps_the_group() {
        let store = store();
        // The filter sees only the sub-select (?a unbound for t9); run after the tag triple,
        // it would see the tag. Not reordered.
        let text =
            "SELECT * { { { SELECT ?t ?a { ?t <ex:idEX> \"9\" OPTIONAL { ?t <ex:atEX> ?a } } } \
                    FILTER(!BOUND(?a)) } ?t <ex:tagEX> ?a . ?t <ex:typeEX> <ex:ThingEX> }";
        let query = ordered(&store, text);
        let written = parse(&text.replace("ex:", EX).replace("EX>", ">"));
        assert_eq!(where_of(&query), where_of(&written), "reordered: {query}");
        assert_eq!(rows(&store, query).len(), 3);
    }

    #[test]
    fn a_later_sub_select_is_hash_joined_to_the_sealed_chain() {
        // 200 things with five tags each: the rest alone is 1,000 tags, the chain from the one
        // thing with id "7" five, and the second sub-select (every id) is read once.
        let store = Store::new().unwrap();
        for i in 0..200 {
            let thing = iri(&format!("t{i}"));
            let add = |p: &str, o: Term| {
                store
                    .insert(&Quad::new(
                        thing.clone(),
                        iri(p),
                        o,
                        GraphName::DefaultGraph,
                    ))
                    .unwrap();
            };
            add("type", iri("Thing").into());
            add("id", Literal::new_simple_literal(i.to_string()).into());
            for tag in 0..5 {
                add("tag", iri(&format!("g{tag}")).into());
            }
        }
        let query = ordered(
            &store,
            "SELECT * { { SELECT ?t { ?t <ex:idEX> \"7\" } } ?t <ex:tagEX> ?g . \
             ?t <ex:typeEX> <ex:ThingEX> { SELECT ?t ?n { ?t <ex:idEX> ?n } } }",
        );
        let mut below = where_of(&query);
        while let GraphPattern::Lateral { left, .. } = below {
            below = left;
        }
        let GraphPattern::Join { left, right } = below else {
            panic!("not a hash join: {query}");
        };
        assert!(
            matches!(left.as_ref(), GraphPattern::Project { inner, .. }
                if matches!(inner.as_ref(), GraphPattern::Lateral { .. })),
            "the chain is not sealed: {query}"
        );
        assert!(
            matches!(right.as_ref(), GraphPattern::Project { .. }),
            "{query}"
        );
        assert_eq!(rows(&store, query).len(), 5);
    }

    #[test]
    fn a_query_with_a_graph_clause_is_left_as_it_is() {
        let store = store();
        let text = "SELECT * { GRAPH ?g { ?t <ex:idEX> ?i . ?t <ex:typeEX> ?c } }";
        let written = parse(&text.replace("ex:", EX).replace("EX>", ">"));
        let query = super::order_joins(written.clone(), &Counted(&store));
        assert_eq!(query, written);
    }
}
