//! The SPARQL query layer of the KIK-V node, apart from any store: the KIK-V dialect front end
//! (`$(name)` placeholders, reused SELECT aliases) and parser glue, the exchange's policy checks,
//! the canonical text of a query, parameter binding in every scope, and the planner and semantic
//! rewrites that keep Oxigraph's optimiser and arithmetic from changing a query's meaning.
//!
//! [`parse_read_only`] turns a text into a [`ReadOnlyQuery`]; [`engine_algebra`] gives the
//! algebra the engine runs for it with parameter bindings, and [`evaluator`] the engine that
//! understands that algebra's functions. The node evaluates the result on its on-disk store or
//! on a [`FrozenGraph`], the in-memory copy of its served graph whose counts also order the
//! joins ([`order_joins`]); tests and benchmarks evaluate it on an in-memory Oxigraph store too.

mod arithmetic;
mod canonical;
mod counts;
mod cross;
mod dialect;
mod exists;
mod filter;
mod fold;
mod frozen;
mod joins;
mod lateral;
mod lexical;
mod lift;
mod numeric;
mod order;
mod pattern;
mod query;
mod scope;
mod substitute;
mod syntax;
mod union;
mod varset;

pub use arithmetic::pin_duration_addition;
pub use canonical::canonical_text;
pub use counts::CountedStatistics;
pub use dialect::{translate, DialectError, Translation, PLACEHOLDER_PREFIX};
pub use frozen::{Computed, FreezeError, FrozenGraph, FrozenTerm, FrozenView};
pub use joins::key_joins;
pub use lexical::{keep_lexical_forms, with_lexical_functions, DECIMAL_STRING};
pub use numeric::{exact_decimal_arithmetic, with_numeric_functions, DIVIDE, MULTIPLY};
pub use order::{order_joins, Statistics};
pub use query::{
    check_exchange_query, engine_algebra, evaluator, names_graphs, parse_read_only, QueryRefusal,
    ReadOnlyQuery, SparqlError,
};
pub use substitute::{parameter_value, substitute_parameters, Bindings, SubstituteError};

/// Helpers shared by the unit tests of the rewrite modules.
#[cfg(test)]
mod test_support {
    use oxigraph::sparql::QueryResults;
    use oxigraph::store::Store;
    use spargebra::{Query, SparqlParser};

    /// The solutions of a SELECT `query` on `store`, each as `?v=term ` pairs, sorted; through
    /// the optimising evaluator or the unoptimised one (the query as written).
    pub(crate) fn rows(store: &Store, query: Query, optimised: bool) -> Vec<String> {
        let mut engine = crate::evaluator();
        if !optimised {
            engine = engine.without_optimizations();
        }
        sorted_rows(engine.for_query(query).on_store(store).execute().unwrap())
    }

    /// The solutions of a SELECT answer, each as `?v=term ` pairs, sorted.
    pub(crate) fn sorted_rows(results: QueryResults<'_>) -> Vec<String> {
        let QueryResults::Solutions(solutions) = results else {
            panic!("not a SELECT");
        };
        let mut rows: Vec<String> = solutions
            .map(|s| {
                let s = s.unwrap();
                s.iter().map(|(v, t)| format!("{v}={t} ")).collect()
            })
            .collect();
        rows.sort();
        rows
    }

    /// Parses `text` with the `xsd:` prefix declared, panicking on a syntax error.
    pub(crate) fn parse(text: &str) -> Query {
        SparqlParser::new()
            .parse_query(&format!(
                "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> {text}"
            ))
            .unwrap()
    }
}
