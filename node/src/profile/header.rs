//! What a published KIK-V query says about itself: the comment block it opens with
//! (`# Indicator: IGJ 1.1.1`, `# Parameters: ?vestigingsnummer, ?peildatum`,
//! `# Ontologie: versie 3.0.0`), and the declarations the Afsprakenset's conventions give the
//! parameter names it uses (see `queries/afsprakenset/README.md`). An importer falls back on
//! these when a query has no usable SHACL parameter shape.

use super::parameter::{ParameterSpec, ParameterType};

/// One entry of a `# Parameters:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderParameter {
    /// The name, without `?` or `$( )`.
    pub name: String,
    /// Written `$(name)`: a placeholder of the body, not a variable.
    pub placeholder: bool,
}

/// The leading comment block of a query file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryHeader {
    /// `# Indicator:` (or, in some files, `# SPARQL:`): the indicator the query computes.
    pub title: Option<String>,
    /// The entries of `# Parameters:` (`?name` and `$(name)`, in order), or `None` when the
    /// block has no such line. `# Parameters: -` and an empty line give an empty list.
    pub parameters: Option<Vec<HeaderParameter>>,
    /// `# Ontologie:`: the ontology version the query needs.
    pub ontology: Option<String>,
}

impl QueryHeader {
    /// Reads the comment lines before the query's first other line. Only that block counts: a
    /// `# Parameters` comment inside the query body is not its header.
    pub fn read(text: &str) -> Self {
        let mut header = Self::default();
        let block = text
            .lines()
            .map(|line| line.trim_end_matches('\r').trim())
            .take_while(|line| line.is_empty() || line.starts_with('#'));
        for line in block {
            let Some((key, value)) = line.trim_start_matches('#').split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "Indicator" | "SPARQL" if header.title.is_none() && !value.is_empty() => {
                    header.title = Some(value.to_owned());
                }
                "Parameters" if header.parameters.is_none() => {
                    header.parameters = Some(parameter_names(value));
                }
                "Ontologie" | "Ontology" if header.ontology.is_none() => {
                    header.ontology = Some(value.to_owned());
                }
                _ => {}
            }
        }
        header
    }
}

/// `?a, ?b` or `$(a), $(b)` (commas or spaces between).
fn parameter_names(list: &str) -> Vec<HeaderParameter> {
    let mut entries: Vec<HeaderParameter> = Vec::new();
    for entry in list.split([',', ' ', '\t']).map(str::trim) {
        let parsed = match entry.strip_prefix('?') {
            Some(name) => Some((name, false)),
            None => entry
                .strip_prefix("$(")
                .and_then(|rest| rest.strip_suffix(')'))
                .map(|name| (name, true)),
        };
        if let Some((name, placeholder)) = parsed.filter(|(n, _)| !n.is_empty()) {
            if !entries.iter().any(|known| known.name == name) {
                entries.push(HeaderParameter {
                    name: name.to_owned(),
                    placeholder,
                });
            }
        }
    }
    entries
}

/// The declaration the Afsprakenset's conventions give a parameter name, for a query that
/// publishes no shape: dates for `peildatum` and the period bounds (`startperiode`,
/// `start_periode`, `start_periode_datum` and their ends), an integer `jaar`, a `kwartaal` of
/// `"Q1"`…`"Q4"`, a twelve-digit `vestigingsnummer`, and a `zorgkantoor` IRI that may be left out
/// (all zorgkantoren). Every other name is unknown: its type must be given.
pub fn convention(name: &str) -> Option<ParameterSpec> {
    let mut spec = ParameterSpec::new(name, ParameterType::String);
    match name {
        "peildatum"
        | "startperiode"
        | "eindperiode"
        | "start_periode"
        | "eind_periode"
        | "start_periode_datum"
        | "eind_periode_datum" => spec.kind = ParameterType::Date,
        "jaar" => spec.kind = ParameterType::Integer,
        "kwartaal" => spec.allowed = ["Q1", "Q2", "Q3", "Q4"].map(String::from).to_vec(),
        "vestigingsnummer" => spec.pattern = Some("[0-9]{12}".into()),
        "zorgkantoor" => {
            spec.kind = ParameterType::Iri;
            spec.required = false;
        }
        _ => return None,
    }
    Some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_block_gives_title_parameters_and_ontology() {
        let text = "# ONGEWIJZIGDE SPARQL-query\r\n# SPARQL: 19.1 Zorgkantoren\r\n\
                    # Parameters: ?startperiode, ?eindperiode ?peildatum\r\n\
                    # Ontologie: versie 3.0.0 of nieuwer\r\n\r\nSELECT * { # Parameters: ?x\n}";
        let header = QueryHeader::read(text);
        assert_eq!(header.title.as_deref(), Some("19.1 Zorgkantoren"));
        let names: Vec<&str> = header
            .parameters
            .iter()
            .flatten()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["startperiode", "eindperiode", "peildatum"]);
        assert!(header.parameters.iter().flatten().all(|p| !p.placeholder));
        assert_eq!(header.ontology.as_deref(), Some("versie 3.0.0 of nieuwer"));
    }

    #[test]
    fn placeholders_dashes_and_absent_lines() {
        let names = |text: &str| {
            QueryHeader::read(text)
                .parameters
                .map(|list| list.into_iter().map(|p| p.name).collect::<Vec<_>>())
        };
        assert_eq!(
            names("# Parameters: $(start_periode), $(eind_periode)\nSELECT"),
            Some(vec!["start_periode".to_owned(), "eind_periode".to_owned()])
        );
        let placeholder = QueryHeader::read("# Parameters: $(jaar)\n").parameters;
        assert_eq!(
            placeholder,
            Some(vec![HeaderParameter {
                name: "jaar".into(),
                placeholder: true
            }])
        );
        assert_eq!(names("# Parameters: -\nSELECT"), Some(Vec::new()));
        assert_eq!(names("# Parameters: \nSELECT"), Some(Vec::new()));
        assert_eq!(names("# Indicator: NZA 11.1\nSELECT"), None);
        assert_eq!(names("SELECT * {}\n# Parameters: ?jaar"), None);
    }

    #[test]
    fn conventions_know_the_afsprakenset_names_only() {
        assert_eq!(
            convention("jaar").map(|s| s.kind),
            Some(ParameterType::Integer)
        );
        assert_eq!(
            convention("start_periode").map(|s| s.kind),
            Some(ParameterType::Date)
        );
        let zorgkantoor = convention("zorgkantoor").unwrap();
        assert_eq!(zorgkantoor.kind, ParameterType::Iri);
        assert!(!zorgkantoor.required);
        assert_eq!(convention("kwartaal").unwrap().allowed.len(), 4);
        assert!(convention("vestiging").is_none());
    }
}
