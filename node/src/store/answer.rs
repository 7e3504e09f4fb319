//! Writing a [`QueryAnswer`]: SPARQL 1.1 results formats through sparesults (the version
//! oxigraph pins, via `oxigraph::sparql::results`), N-Triples for graphs, and a plain text
//! table for people.

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::Term;
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};

use super::{NodeStore, QueryAnswer};

/// An output format name that is not one of `table`, `csv`, `tsv`, `json` or `xml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}` (use table, csv, tsv, json or xml)")]
pub struct UnknownOutputFormat(pub String);

/// The output format named on the command line: `table` (None), `csv`, `tsv`, `json` or `xml`.
pub fn output_format(name: &str) -> Result<Option<QueryResultsFormat>, UnknownOutputFormat> {
    Ok(Some(match name {
        "table" => return Ok(None),
        "csv" => QueryResultsFormat::Csv,
        "tsv" => QueryResultsFormat::Tsv,
        "json" => QueryResultsFormat::Json,
        "xml" => QueryResultsFormat::Xml,
        other => return Err(UnknownOutputFormat(other.to_owned())),
    }))
}

impl QueryAnswer {
    /// Serialises a SELECT or ASK answer in a SPARQL results format, or a graph answer as
    /// N-Triples (results formats cannot hold graphs).
    pub fn serialize(&self, format: QueryResultsFormat) -> std::io::Result<Vec<u8>> {
        let serializer = QueryResultsSerializer::from_format(format);
        match self {
            Self::Boolean(value) => serializer.serialize_boolean_to_writer(Vec::new(), *value),
            Self::Solutions { variables, rows } => {
                let mut writer =
                    serializer.serialize_solutions_to_writer(Vec::new(), variables.clone())?;
                for row in rows {
                    writer.serialize(
                        variables
                            .iter()
                            .zip(row)
                            .filter_map(|(v, t)| t.as_ref().map(|t| (v, t))),
                    )?;
                }
                writer.finish()
            }
            Self::Graph(triples) => {
                let mut writer =
                    RdfSerializer::from_format(RdfFormat::NTriples).for_writer(Vec::new());
                for triple in triples {
                    writer.serialize_triple(triple)?;
                }
                writer.finish()
            }
        }
    }

    /// A text table with one column per variable, for a terminal.
    pub fn table(&self) -> String {
        match self {
            Self::Boolean(value) => format!("{value}\n"),
            Self::Graph(triples) => triples.iter().map(|t| format!("{t} .\n")).collect(),
            Self::Solutions { variables, rows } => {
                let header: Vec<String> = variables.iter().map(|v| v.as_str().to_owned()).collect();
                let cells: Vec<Vec<String>> = rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|t| t.as_ref().map_or(String::new(), show))
                            .collect()
                    })
                    .collect();
                let widths: Vec<usize> = (0..header.len())
                    .map(|i| {
                        cells
                            .iter()
                            .map(|r| r[i].chars().count())
                            .chain([header[i].chars().count()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: &[String]| {
                    let padded: Vec<String> = cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect();
                    format!("{}\n", padded.join(" | ").trim_end())
                };
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                let mut out = line(&header);
                out.push_str(&format!("{}\n", rule.join("-+-")));
                for row in &cells {
                    out.push_str(&line(row));
                }
                out.push_str(&format!("({} rows)\n", rows.len()));
                out
            }
        }
    }
}

/// A term as a person reads it: IRIs and literal values without N-Triples decoration, a
/// language tag kept.
fn show(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => n.as_str().to_owned(),
        Term::BlankNode(b) => b.to_string(),
        Term::Literal(l) => match l.language() {
            Some(language) => format!("{}@{language}", l.value()),
            None => l.value().to_owned(),
        },
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}

/// What `kikv query` prints: the answer in a format (`None`: a table), or the evaluated plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printout {
    /// The answer, as a table (`None`) or in a SPARQL results format.
    Answer(Option<QueryResultsFormat>),
    /// The plan with per-step rows and times ([`NodeStore::explain`]).
    Plan,
}

impl NodeStore {
    /// Runs `query` with `bindings` within `limits` and returns what `kikv query` prints, on
    /// this process's store or in the node's admin handler alike.
    pub fn printout(
        &self,
        query: &super::ReadOnlyQuery,
        bindings: &[(oxigraph::model::Variable, oxigraph::model::Term)],
        limits: super::QueryLimits,
        printout: Printout,
    ) -> Result<Vec<u8>, super::QueryError> {
        Ok(match printout {
            Printout::Plan => self.explain(query, bindings, limits)?.into_bytes(),
            Printout::Answer(None) => self.evaluate(query, bindings, limits)?.table().into_bytes(),
            Printout::Answer(Some(format)) => self
                .evaluate(query, bindings, limits)?
                .serialize(format)
                .map_err(|e| super::QueryError::Evaluation(e.to_string()))?,
        })
    }
}
