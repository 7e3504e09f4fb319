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
//! where the join gives nothing); `Extend(Join(P, Q), x, e)` is `Join(Extend(P, x, e), Q)` and
//! `Filter(Join(P, Q), f)` is `Join(Filter(P, f), Q)` when every variable `e` or `f` reads is
//! bound in every solution of `P` or bound nowhere in the group (§18.2.4.1 for filters, the same
//! argument for a deterministic `BIND`). A `BIND` variable that a triple also uses is only read
//! by that triple after the `BIND`; a group whose expressions read such a variable, a `BIND`
//! that may make fresh values (`RAND()`, `BNODE()`, …) or an `EXISTS` is not reordered.
//!
//! Only where the planner evaluates a group once: the whole pattern, sub-selects, union
//! branches, the left side of `OPTIONAL`, `MINUS` and lookups. The right side of an `OPTIONAL`
//! or of a lookup, and `EXISTS`, run once per solution of something else with its values bound,
//! so they are left to the planner. A chain that is joined with other parts is projected on its
//! variables, so that the planner hash-joins it rather than running it once per solution of the
//! other part in an order chosen as if nothing were bound.

use std::collections::BTreeSet;

use oxigraph::model::{NamedNode, Term, Variable};
use spargebra::algebra::{Expression, GraphPattern, PropertyPathExpression};
use spargebra::term::{GroundTerm, NamedNodePattern, TermPattern, TriplePattern};
use spargebra::Query;

use super::lateral::is_set_valued;
use super::pattern::rewrite_where;
use super::scope::{expression_variables, scope_of};

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

/// One part of a group.
#[derive(Clone)]
enum Part {
    /// A triple pattern (blank nodes made variables).
    Triple(TriplePattern),
    /// A path; `zero` when it may have length zero.
    Path {
        subject: TermPattern,
        path: PropertyPathExpression,
        object: TermPattern,
        zero: bool,
    },
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
}

/// A group taken apart.
#[derive(Default)]
struct Group {
    parts: Vec<Part>,
    /// Variables an expression reads that its own part of the group does not bind in every
    /// solution: the group may only be reordered when they are bound nowhere in it.
    free: BTreeSet<Variable>,
}

impl Part {
    fn is_expression(&self) -> bool {
        matches!(self, Part::Extend { .. } | Part::Filter(_))
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
            Part::Values { variables, .. } => variables.clone(),
            Part::Extend { variable, .. } => vec![variable.clone()],
            Part::Filter(_) => Vec::new(),
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
            Part::Extend { .. } | Part::Filter(_) => unreachable!("expressions wrap a chain"),
        }
    }
}

fn variable_of(term: &TermPattern) -> Option<Variable> {
    match term {
        TermPattern::Variable(v) => Some(v.clone()),
        _ => None,
    }
}

/// A blank node of a BGP as a variable of its own (a blank node acts as a variable of its BGP,
/// and a BGP is taken apart here). The name cannot clash with a query's: `_` cannot start one
/// that the parser makes from a blank node label, and these are used nowhere else.
fn as_variable(term: TermPattern) -> TermPattern {
    match term {
        TermPattern::BlankNode(b) => TermPattern::Variable(Variable::new_unchecked(format!(
            "kikv_bnode_{}",
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

impl Group {
    /// Takes `pattern` apart into `self`; false when it is not a group (then `self` is spoilt).
    fn absorb(&mut self, pattern: &GraphPattern) -> bool {
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
            GraphPattern::Join { left, right } | GraphPattern::Lateral { left, right } => {
                self.absorb(left) && self.absorb(right)
            }
            GraphPattern::Extend {
                inner,
                variable,
                expression,
            } => {
                let deterministic = super::union::is_deterministic(&GraphPattern::Filter {
                    expr: expression.clone(),
                    inner: Box::new(GraphPattern::Bgp {
                        patterns: Vec::new(),
                    }),
                });
                if !deterministic || expression_variables(expression).is_none() {
                    return false;
                }
                let start = self.parts.len();
                if !self.absorb(inner) {
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
                if !self.absorb(inner) {
                    return false;
                }
                self.note_free(start, expr);
                self.parts.push(Part::Filter(expr.clone()));
                true
            }
            _ => false,
        }
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
            if !determined {
                self.free.insert(v);
            }
        }
    }

    /// Whether the complete group may be reordered: every variable an expression reads that its
    /// own part does not bind is bound nowhere in the group, and no expression reads a
    /// `BIND` variable a triple, path or table also binds (it could be bound there when the
    /// `BIND` fails, after the expression ran in the query as written).
    fn valid(&self) -> bool {
        let bound_by_parts: BTreeSet<Variable> = self
            .parts
            .iter()
            .filter(|p| !p.is_expression())
            .flat_map(Part::binds)
            .collect();
        let extended: BTreeSet<Variable> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Extend { variable, .. } => Some(variable.clone()),
                _ => None,
            })
            .collect();
        let all: BTreeSet<Variable> = self.parts.iter().flat_map(Part::binds).collect();
        let reads: BTreeSet<Variable> = self.parts.iter().flat_map(Part::reads).collect();
        self.free.is_disjoint(&all)
            && self.is_connected()
            && !reads
                .iter()
                .any(|v| extended.contains(v) && bound_by_parts.contains(v))
            && self.parts.iter().filter(|p| !p.is_expression()).count() >= 2
    }
}

impl Group {
    /// Whether the parts are linked by shared variables (a `BIND` links what it reads to its
    /// variable; one that reads nothing runs first): a group whose parts only meet through the rest of the query is left to the
    /// planner, which sees that rest.
    fn is_connected(&self) -> bool {
        let names: Vec<BTreeSet<Variable>> = self
            .parts
            .iter()
            .map(|p| p.binds().into_iter().chain(p.reads()).collect())
            .collect();
        // A `FILTER` links nothing; a `BIND` of a constant runs first.
        let linked: Vec<usize> = (0..self.parts.len())
            .filter(|&i| match &self.parts[i] {
                Part::Filter(_) => false,
                part @ Part::Extend { .. } => !part.reads().is_empty(),
                _ => true,
            })
            .collect();
        let Some(&first) = linked.first() else {
            return true;
        };
        let mut reached: BTreeSet<Variable> = names[first].clone();
        let mut seen = vec![false; self.parts.len()];
        seen[first] = true;
        let mut progress = true;
        while progress {
            progress = false;
            for &i in &linked {
                if !seen[i] && !names[i].is_disjoint(&reached) {
                    seen[i] = true;
                    reached.extend(names[i].iter().cloned());
                    progress = true;
                }
            }
        }
        linked.iter().all(|&i| seen[i])
    }
}

/// What is known at a point of the chain.
#[derive(Default)]
struct Known {
    /// Bound in some solutions (the estimate treats them as bound).
    bound: BTreeSet<Variable>,
    /// Bound in every solution, to the value the whole group gives it, or made by a `BIND`.
    determined: BTreeSet<Variable>,
    /// Bound by a triple or a path: a node of the data.
    nodes: BTreeSet<Variable>,
}

impl Orderer<'_> {
    /// `pattern` with its groups ordered; `joined` when a join may run it once per solution of
    /// another part.
    fn order(&self, pattern: GraphPattern, joined: bool) -> GraphPattern {
        let mut group = Group::default();
        let absorbed = group.absorb(&pattern);
        if absorbed {
            if !group.valid() {
                // A group as it is: nothing in it has a scope of its own to order.
                return pattern;
            }
            let chain = self.chain(group);
            return if joined { whole(chain) } else { chain };
        }
        use GraphPattern as P;
        let boxed = |p: Box<GraphPattern>, joined: bool| Box::new(self.order(*p, joined));
        match pattern {
            P::Join { left, right } => P::Join {
                left: boxed(left, true),
                right: boxed(right, true),
            },
            // Looked up per solution of `left`: `right` sees its values.
            P::Lateral { left, right } => P::Lateral {
                left: boxed(left, false),
                right,
            },
            P::LeftJoin {
                left,
                right,
                expression,
            } => P::LeftJoin {
                left: boxed(left, false),
                // Evaluated once and hash-joined unless the planner loops over it; a chain
                // here is projected, which keeps it from looping.
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
                inner: boxed(inner, joined),
            },
            P::Extend {
                inner,
                variable,
                expression,
            } => P::Extend {
                inner: boxed(inner, joined),
                variable,
                expression,
            },
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
    fn chain(&self, group: Group) -> GraphPattern {
        let parts = group.parts;
        let never: BTreeSet<Variable> = {
            let bound: BTreeSet<Variable> = parts.iter().flat_map(Part::binds).collect();
            parts
                .iter()
                .flat_map(Part::reads)
                .filter(|v| !bound.contains(v))
                .collect()
        };
        let starts: Vec<usize> = (0..parts.len())
            .filter(|&i| !parts[i].is_expression())
            .collect();
        let best = starts
            .iter()
            .map(|&start| self.plan(&parts, &never, Some(start)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or_else(|| self.plan(&parts, &never, None).0, |plan| plan.0);
        build(parts, best)
    }

    /// The steps of a plan starting at `start`, and its cost: the sum of the estimated
    /// solutions after each part.
    fn plan(
        &self,
        parts: &[Part],
        never: &BTreeSet<Variable>,
        start: Option<usize>,
    ) -> (Vec<Step>, f64) {
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
                        && part
                            .reads()
                            .iter()
                            .all(|v| known.determined.contains(v) || never.contains(v));
                    if ready {
                        done[i] = true;
                        expression_known(part, &mut known);
                        steps.push(Step::Expression(i));
                        progress = true;
                    }
                }
            }
            let extends_pending: BTreeSet<&Variable> = parts
                .iter()
                .enumerate()
                .filter(|(i, _)| !done[*i])
                .filter_map(|(_, p)| match p {
                    Part::Extend { variable, .. } => Some(variable),
                    _ => None,
                })
                .collect();
            let candidates: Vec<(usize, f64, bool)> = parts
                .iter()
                .enumerate()
                .filter(|(i, part)| {
                    !done[*i]
                        && !part.is_expression()
                        && !part.binds().iter().any(|v| extends_pending.contains(v))
                        && self.may_look_up(part, &known)
                        && first.is_none_or(|f| f == *i)
                })
                .map(|(i, part)| {
                    let connected = part.binds().iter().any(|v| known.bound.contains(v));
                    (i, self.estimate(part, &known.bound), connected)
                })
                .collect();
            first = None;
            let any_connected = candidates.iter().any(|c| c.2);
            let Some((i, estimate, connected)) = candidates
                .iter()
                .filter(|c| c.2 || !any_connected)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .copied()
            else {
                break;
            };
            done[i] = true;
            learn(&parts[i], &mut known);
            rows *= estimate.max(1e-6);
            cost += rows;
            steps.push(if connected || steps.is_empty() {
                Step::Lookup(i)
            } else {
                Step::Join(i)
            });
        }
        // What could not be looked up (a path of length zero from a term a table or a `BIND`
        // gave) is joined as written, then the remaining expressions.
        for (i, part) in parts.iter().enumerate() {
            if !done[i] && !part.is_expression() {
                done[i] = true;
                steps.push(Step::Join(i));
                cost += rows * self.estimate(part, &BTreeSet::new());
            }
        }
        steps.extend((0..parts.len()).filter(|&i| !done[i]).map(Step::Expression));
        (steps, cost)
    }

    /// Whether `part` may be looked up from what is known: a path that may have length zero only
    /// from ends bound to nodes of the data.
    fn may_look_up(&self, part: &Part, known: &Known) -> bool {
        match part {
            Part::Path {
                subject,
                object,
                zero: true,
                ..
            } => [subject, object].into_iter().all(|end| match end {
                TermPattern::Variable(v) => !known.bound.contains(v) || known.nodes.contains(v),
                _ => true,
            }),
            _ => true,
        }
    }

    /// The estimated solutions of `part` per solution of what is bound.
    fn estimate(&self, part: &Part, bound: &BTreeSet<Variable>) -> f64 {
        let is_bound = |t: &TermPattern| match t {
            TermPattern::Variable(v) => bound.contains(v),
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
                    if bound.contains(v) {
                        let distinct: std::collections::HashSet<_> =
                            bindings.iter().map(|r| &r[i]).collect();
                        n /= distinct.len().max(1) as f64;
                    }
                }
                n
            }
            Part::Extend { .. } | Part::Filter(_) => 1.0,
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

/// What is known after `part` (a triple, path or table) joined the chain.
fn learn(part: &Part, known: &mut Known) {
    known.bound.extend(part.binds());
    known.determined.extend(part.certain());
    if matches!(part, Part::Triple(_) | Part::Path { .. }) {
        known.nodes.extend(part.binds());
    }
}

/// What is known after an expression part ran: a `BIND` variable is bound, or left unbound
/// the same way whatever comes later.
fn expression_known(part: &Part, known: &mut Known) {
    if let Part::Extend { variable, .. } = part {
        known.bound.insert(variable.clone());
        known.determined.insert(variable.clone());
    }
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
fn build(parts: Vec<Part>, steps: Vec<Step>) -> GraphPattern {
    let mut slots: Vec<Option<Part>> = parts.into_iter().map(Some).collect();
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

/// A chain projected on its variables (see the module documentation).
fn whole(chain: GraphPattern) -> GraphPattern {
    let variables = scope_of(&chain)
        .possible
        .into_iter()
        .filter(|v| !v.as_str().starts_with("kikv_bnode_"))
        .collect();
    GraphPattern::Project {
        inner: Box::new(chain),
        variables,
    }
}
