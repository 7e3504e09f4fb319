//! Read-only SPARQL over the store: the query layer's parsing and engine algebra (the
//! `kikv-sparql` crate) with the node's error, and evaluation with a time limit that really stops
//! the engine and a cap on result rows.

use std::time::Duration;

use kikv_sparql::{evaluator, QueryRefusal, ReadOnlyQuery, SparqlError};
use oxigraph::model::{NamedOrBlankNode, Term, Triple};
use oxigraph::sparql::{
    BoundPreparedSparqlQuery, CancellationToken, PreparedSparqlQuery, QueryDataset,
    QueryEvaluationError, QueryResults, Variable,
};
use spareval::QueryableDataset;
use spargebra::Query;

use super::{NodeStore, StoreError};

/// Why a query was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The text is not a SPARQL query.
    #[error("SPARQL syntax error: {0}")]
    Syntax(String),
    /// The text is a SPARQL update; the node never runs updates on request.
    #[error("update queries are refused: only read-only queries run here")]
    Update,
    /// The query is read-only but breaks the exchange policy.
    #[error(transparent)]
    Refused(#[from] QueryRefusal),
    /// A parameter cannot be bound (the query assigns it itself).
    #[error(transparent)]
    Parameter(#[from] super::SubstituteError),
    /// The time limit passed and the evaluation was stopped.
    #[error("query stopped after its time limit of {0:?}")]
    Timeout(Duration),
    /// The node grew by more than the configured memory (in MiB) while evaluating; the
    /// evaluation was stopped.
    #[error("query stopped: the node grew by more than {0} MiB while evaluating it")]
    MemoryLimit(u64),
    /// Every evaluation slot stayed taken for the whole time limit.
    #[error("no evaluation slot became free within {0:?}: the node is busy with other queries")]
    Busy(Duration),
    /// The answer has more rows than allowed.
    #[error("the answer has more than {0} rows, the configured limit")]
    TooManyRows(usize),
    /// The engine failed while evaluating.
    #[error("query evaluation failed: {0}")]
    Evaluation(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SparqlError> for QueryError {
    fn from(error: SparqlError) -> Self {
        match error {
            SparqlError::Syntax(message) => Self::Syntax(message),
            SparqlError::Update => Self::Update,
            SparqlError::Refused(refusal) => Self::Refused(refusal),
            SparqlError::Parameter(parameter) => Self::Parameter(parameter),
        }
    }
}

/// Parses `text` as a query, in the KIK-V dialect the official queries are written in; an update
/// or anything else is refused with one line naming where (see [`kikv_sparql::parse_read_only`]).
pub fn parse_read_only(text: &str) -> Result<ReadOnlyQuery, QueryError> {
    Ok(kikv_sparql::parse_read_only(text)?)
}

/// The algebra the engine runs for `query` with `bindings`: parameters substituted in every
/// scope, then the rewrites that keep Oxigraph's optimiser and arithmetic from changing the
/// meaning (see [`kikv_sparql::engine_algebra`]). The node's one path from a parsed query to the
/// engine, shared with tests and benchmarks that evaluate on plain Oxigraph.
pub fn engine_algebra(
    query: &ReadOnlyQuery,
    bindings: &[(Variable, Term)],
) -> Result<Query, QueryError> {
    Ok(kikv_sparql::engine_algebra(query, bindings)?)
}

/// Limits of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Wall-clock limit; the engine is cancelled when it passes.
    pub timeout: Duration,
    /// Largest number of rows (or triples) an answer may hold.
    pub max_rows: usize,
}

impl From<&crate::config::StoreConfig> for QueryLimits {
    fn from(config: &crate::config::StoreConfig) -> Self {
        Self {
            timeout: Duration::from_secs(config.query_timeout_secs),
            max_rows: config.max_result_rows,
        }
    }
}

/// A complete answer, read to the end within the limits.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryAnswer {
    /// An ASK answer.
    Boolean(bool),
    /// A SELECT answer: the projected variables and one row per solution.
    Solutions {
        /// Column names, in projection order.
        variables: Vec<Variable>,
        /// Rows; `None` where a variable is unbound.
        rows: Vec<Vec<Option<Term>>>,
    },
    /// A CONSTRUCT or DESCRIBE answer.
    Graph(Vec<Triple>),
}

impl NodeStore {
    /// Evaluates `query` over the registered datasets within `limits` and the store's
    /// [`EvaluationGuard`](crate::store::EvaluationGuard), each binding substituted for its variable in every scope of the
    /// parsed query (see `sparql/src/substitute.rs`: the engine's own initial bindings do not
    /// reach sub-selects; values never touch the query text).
    pub fn evaluate(
        &self,
        query: &ReadOnlyQuery,
        bindings: &[(Variable, Term)],
        limits: QueryLimits,
    ) -> Result<QueryAnswer, QueryError> {
        self.run(query, bindings, limits, Answer(limits.max_rows))
    }

    /// Evaluates `query` as [`NodeStore::evaluate`] does and returns the engine's plan, with
    /// the rows each step produced and the time it took, as indented JSON: what to read when
    /// an indicator is slow.
    pub fn explain(
        &self,
        query: &ReadOnlyQuery,
        bindings: &[(Variable, Term)],
        limits: QueryLimits,
    ) -> Result<String, QueryError> {
        self.run(query, bindings, limits, Explain)
    }

    /// Runs `finish` on the prepared query bound to the in-memory copy of the served graph
    /// when there is one and the query names no graph, else to the store on disk, on an
    /// evaluation thread of the [`EvaluationGuard`](super::EvaluationGuard) with the time limit
    /// of `limits`.
    fn run<F: Finish>(
        &self,
        query: &ReadOnlyQuery,
        bindings: &[(Variable, Term)],
        limits: QueryLimits,
        finish: F,
    ) -> Result<F::Output, QueryError> {
        let algebra = engine_algebra(query, bindings)?;
        if !kikv_sparql::names_graphs(query) {
            if let Some(graph) = self.memory_graph() {
                // The copy's counts choose the join order (`order.rs` of the query layer).
                let algebra = kikv_sparql::order_joins(algebra, &*graph);
                return self.guard.run(limits.timeout, move |token| {
                    // A `FROM` is overridden here as on disk: the copy is the served graph.
                    let prepared = prepared(algebra, QueryDataset::new(), token);
                    finish.finish(prepared.on_queryable_dataset(graph.view()))
                });
            }
        }
        let dataset = self.disk_dataset()?;
        let store = self.store.clone();
        self.guard.run(limits.timeout, move |token| {
            finish.finish(prepared(algebra, dataset, token).on_store(&store))
        })
    }

    /// The dataset a query runs over on disk: the served graph (the set union of the
    /// registered datasets) as default graph, the datasets' physical graphs as the named
    /// graphs.
    fn disk_dataset(&self) -> Result<QueryDataset, QueryError> {
        let graphs = self.query_graphs()?;
        let named: Vec<NamedOrBlankNode> = self
            .physical_graphs()?
            .into_iter()
            .map(NamedOrBlankNode::from)
            .collect();
        let mut dataset = QueryDataset::new();
        dataset.set_default_graph(graphs);
        dataset.set_available_named_graphs(named);
        Ok(dataset)
    }
}

/// The engine for `algebra` over `dataset` (which replaces the query's own `FROM`), stopped
/// by `token`: the same on the in-memory copy and on disk.
fn prepared(
    algebra: Query,
    dataset: QueryDataset,
    token: CancellationToken,
) -> PreparedSparqlQuery {
    let mut prepared = evaluator()
        .with_cancellation_token(token)
        .for_query(algebra);
    *prepared.dataset_mut() = dataset;
    prepared
}

/// What an evaluation gives back, from a prepared query bound to either dataset.
trait Finish: Send + 'static {
    type Output: Send + 'static;
    fn finish<'a, D: QueryableDataset<'a>>(
        self,
        bound: BoundPreparedSparqlQuery<'a, D>,
    ) -> Result<Self::Output, QueryError>;
}

/// The answer, read to the end, of at most this many rows.
struct Answer(usize);

impl Finish for Answer {
    type Output = QueryAnswer;

    fn finish<'a, D: QueryableDataset<'a>>(
        self,
        bound: BoundPreparedSparqlQuery<'a, D>,
    ) -> Result<QueryAnswer, QueryError> {
        match bound.execute().and_then(|results| collect(results, self.0)) {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(QueryError::TooManyRows(self.0)),
            Err(error) => Err(QueryError::Evaluation(error.to_string())),
        }
    }
}

/// The plan with the rows and time of each step, as indented JSON.
struct Explain;

impl Finish for Explain {
    type Output = String;

    fn finish<'a, D: QueryableDataset<'a>>(
        self,
        bound: BoundPreparedSparqlQuery<'a, D>,
    ) -> Result<String, QueryError> {
        let (results, explanation) = bound.compute_statistics().explain();
        // The statistics are complete only once every result was read.
        let evaluation = |e: QueryEvaluationError| QueryError::Evaluation(e.to_string());
        match results.map_err(evaluation)? {
            QueryResults::Solutions(solutions) => {
                for solution in solutions {
                    solution.map_err(evaluation)?;
                }
            }
            QueryResults::Graph(triples) => {
                for triple in triples {
                    triple.map_err(evaluation)?;
                }
            }
            QueryResults::Boolean(_) => {}
        }
        let mut json = Vec::new();
        let written = explanation.write_in_json(&mut json);
        let pretty = written
            .ok()
            .and_then(|()| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|v| serde_json::to_string_pretty(&v).ok());
        pretty.ok_or_else(|| QueryError::Evaluation("the plan could not be written".into()))
    }
}

/// Reads results to the end; `None` when there are more than `max_rows`.
fn collect(
    results: QueryResults<'_>,
    max_rows: usize,
) -> Result<Option<QueryAnswer>, QueryEvaluationError> {
    Ok(Some(match results {
        QueryResults::Boolean(value) => QueryAnswer::Boolean(value),
        QueryResults::Solutions(solutions) => {
            let variables = solutions.variables().to_vec();
            let mut rows = Vec::new();
            for solution in solutions {
                if rows.len() == max_rows {
                    return Ok(None);
                }
                let solution = solution?;
                rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
            }
            QueryAnswer::Solutions { variables, rows }
        }
        QueryResults::Graph(triples) => {
            let mut all = Vec::new();
            for triple in triples {
                if all.len() == max_rows {
                    return Ok(None);
                }
                all.push(triple?);
            }
            QueryAnswer::Graph(all)
        }
    }))
}
