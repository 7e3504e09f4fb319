//! The WHERE pattern of a parsed query, whatever its form: the part every rewrite of the node
//! (parameter substitution, the duration-addition rewrite) works on.

use spargebra::algebra::GraphPattern;
use spargebra::Query;

/// Replaces the WHERE pattern of `query` by `rewrite` of it, keeping the form, dataset and
/// base IRI.
pub(super) fn rewrite_where<E>(
    mut query: Query,
    rewrite: impl FnOnce(GraphPattern) -> Result<GraphPattern, E>,
) -> Result<Query, E> {
    let (Query::Select { pattern, .. }
    | Query::Ask { pattern, .. }
    | Query::Construct { pattern, .. }
    | Query::Describe { pattern, .. }) = &mut query;
    let taken = std::mem::replace(
        pattern,
        GraphPattern::Bgp {
            patterns: Vec::new(),
        },
    );
    *pattern = rewrite(taken)?;
    Ok(query)
}
