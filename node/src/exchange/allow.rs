//! Allow-listing (SPEC §4 step 6) and parameters (step 7) on what verified credentials say.
//!
//! Step 6: the profile (IRI and version) is registered on this node and active; the query is a
//! read-only SELECT or ASK with no SERVICE, no update and no FROM; it is one of the profile's
//! registered queries, compared after parsing so whitespace and comments do not matter; and
//! its ontology is one the profile is written against and a dataset of this node offers. The
//! policy checks come before the profile match so that a consumer learns *why* a query is not
//! acceptable (an update or a SERVICE clause can never be a registered query anyway).
//!
//! Step 7: every declared parameter present, typed and in bounds; none undeclared.
//!
//! Queries are compared by their canonical text ([`crate::store::canonical_text`]), computed once per
//! registered query in a [`QueryIndex`]; comparing the parser's algebra directly would never
//! match a query with an aggregate.

use std::collections::{BTreeMap, HashMap};

use oxigraph::model::Term;
use oxigraph::sparql::Variable;

use super::presentation::CheckedCredential;
use crate::profile::{bind_parameters, ParameterError, Profile, ProfileQuery, Registry};
use crate::store::canonical_text;
use crate::store::{check_exchange_query, parse_read_only, QueryError, QueryRefusal};

/// Why a credential's query is not allowed on this node (SPEC §4 step 6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllowError {
    /// No profile with this IRI and version is registered.
    #[error("profile {iri} version {version} is not registered on this node")]
    ProfileNotRegistered {
        /// Profile IRI.
        iri: String,
        /// Version.
        version: String,
    },
    /// The profile version is registered but not active.
    #[error("profile {iri} version {version} is not active on this node")]
    ProfileInactive {
        /// Profile IRI.
        iri: String,
        /// Version.
        version: String,
    },
    /// The credential's query text is not SPARQL.
    #[error("the query is not valid SPARQL: {0}")]
    QuerySyntax(String),
    /// The credential's query is an update.
    #[error("the query is an update; only read-only queries are answered")]
    QueryIsUpdate,
    /// The query is read-only but breaks the exchange policy.
    #[error(transparent)]
    QueryRefused(#[from] QueryRefusal),
    /// The query is none of the profile's registered queries.
    #[error("the query is not one of the registered queries of profile {iri} version {version}")]
    QueryNotInProfile {
        /// Profile IRI.
        iri: String,
        /// Version.
        version: String,
    },
    /// The credential names an ontology the profile is not written against.
    #[error("ontology {0} is not an ontology of the profile")]
    OntologyNotInProfile(String),
    /// No dataset of this node conforms to the credential's ontology.
    #[error("this node offers no dataset in ontology {0}")]
    OntologyNotOffered(String),
}

/// A credential that passed step 6: its profile and the registered query it asks.
#[derive(Debug, Clone, Copy)]
pub struct Allowed<'a> {
    /// The credential.
    pub credential: &'a CheckedCredential,
    /// Its profile.
    pub profile: &'a Profile,
    /// The registered query its text matches.
    pub query: &'a ProfileQuery,
}

/// The registered profiles with the canonical text of each of their queries, made once when
/// the node starts.
#[derive(Debug, Clone)]
pub struct QueryIndex {
    registry: Registry,
    canonical: HashMap<(String, String), Vec<(String, usize)>>,
}

impl QueryIndex {
    /// Indexes every query of every profile of `registry`.
    pub fn new(registry: Registry) -> Self {
        let canonical = registry
            .profiles()
            .iter()
            .map(|p| {
                let texts = p
                    .queries
                    .iter()
                    .enumerate()
                    .map(|(i, q)| (canonical_text(&q.text, &q.query), i))
                    .collect();
                ((p.iri.clone(), p.version.clone()), texts)
            })
            .collect();
        Self {
            registry,
            canonical,
        }
    }

    /// The profiles.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn find(&self, profile: &Profile, canonical: &str) -> Option<usize> {
        self.canonical
            .get(&(profile.iri.clone(), profile.version.clone()))?
            .iter()
            .find(|(text, _)| text == canonical)
            .map(|(_, index)| *index)
    }
}

/// Step 6 for one credential. `offered` holds the ontology IRIs of the node's datasets.
pub fn allow<'a>(
    index: &'a QueryIndex,
    offered: &[String],
    credential: &'a CheckedCredential,
) -> Result<Allowed<'a>, AllowError> {
    let (iri, version) = (&credential.profile, &credential.profile_version);
    let profile =
        index
            .registry
            .get(iri, version)
            .ok_or_else(|| AllowError::ProfileNotRegistered {
                iri: iri.clone(),
                version: version.clone(),
            })?;
    if !profile.active {
        return Err(AllowError::ProfileInactive {
            iri: iri.clone(),
            version: version.clone(),
        });
    }
    let query = match registered_text(profile, &credential.query) {
        Some(query) => query,
        None => {
            let parsed = parse_read_only(&credential.query).map_err(|e| match e {
                QueryError::Update => AllowError::QueryIsUpdate,
                QueryError::Refused(refusal) => AllowError::QueryRefused(refusal),
                other => AllowError::QuerySyntax(other.to_string()),
            })?;
            check_exchange_query(&parsed)?;
            index
                .find(profile, &canonical_text(&credential.query, &parsed))
                .and_then(|i| profile.queries.get(i))
                .ok_or_else(|| AllowError::QueryNotInProfile {
                    iri: iri.clone(),
                    version: version.clone(),
                })?
        }
    };
    let ontology = &credential.ontology;
    if !profile.ontologies.is_empty() && !profile.ontologies.contains(ontology) {
        return Err(AllowError::OntologyNotInProfile(ontology.clone()));
    }
    if !offered.contains(ontology) {
        return Err(AllowError::OntologyNotOffered(ontology.clone()));
    }
    Ok(Allowed {
        credential,
        profile,
        query,
    })
}

/// The registered query of `profile` whose text is `text` byte for byte: the credential
/// carries the text the beheerorganisatie signed, which is the published file the profile
/// registered, so the parse and checks made at registration answer for it. Why: parsing the
/// text again cost as much as answering the smallest official questions (NZa kostenonderzoek
/// 9.1: 0.05 ms to parse, 0.2 ms to answer). Any other text is parsed, checked and matched by
/// its canonical form.
fn registered_text<'a>(profile: &'a Profile, text: &str) -> Option<&'a ProfileQuery> {
    profile.queries.iter().find(|q| q.text == text)
}

/// Step 7 for all credentials of one presentation, which carries one set of parameter values:
/// each query gets the values it declares, checked against its declaration; a value no query
/// declares is refused.
pub fn bind_all(
    allowed: &[Allowed<'_>],
    values: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Vec<(Variable, Term)>>, ParameterError> {
    if let Some(name) = values.keys().find(|name| {
        !allowed
            .iter()
            .any(|a| a.query.parameters.iter().any(|p| &p.name == *name))
    }) {
        return Err(ParameterError::Undeclared(name.clone()));
    }
    allowed
        .iter()
        .map(|a| {
            let own: BTreeMap<String, serde_json::Value> = values
                .iter()
                .filter(|(name, _)| a.query.parameters.iter().any(|p| &p.name == *name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            bind_parameters(&a.query.parameters, &own)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use oxigraph::model::Literal;
    use serde_json::json;

    use super::*;

    const ONZ_G: &str = "http://purl.org/ozo/onz-g";
    const PROFILE: &str = "https://kik-v.example/profiles/test";
    const Q1: &str = "PREFIX onz-g: <http://purl.org/ozo/onz-g#>\nSELECT (COUNT(DISTINCT ?p) AS ?aantal) WHERE {\n  ?p a onz-g:Human ; onz-g:jaar ?j ; onz-g:kwartaal ?k .\n  FILTER(?j = ?jaar && ?k = ?kwartaal)\n}\n";
    const Q2: &str = "SELECT ?s WHERE { ?s <urn:naam> ?naam }\n";

    fn write_profiles(dir: &Path) -> QueryIndex {
        std::fs::write(dir.join("q1.rq"), Q1).unwrap();
        std::fs::write(dir.join("q2.rq"), Q2).unwrap();
        let profile = |version: &str, active: bool| {
            format!(
                r#"iri = "{PROFILE}"
version = "{version}"
title = "t"
consumer = "c"
purpose = "p"
legal_basis = "l"
ontologies = ["{ONZ_G}"]
active = {active}

[[query]]
id = "1"
file = "../q1.rq"
[[query.parameter]]
name = "jaar"
type = "integer"
min = 2000
max = 2100
[[query.parameter]]
name = "kwartaal"
type = "string"
in = ["Q1", "Q2", "Q3", "Q4"]

[[query]]
id = "2"
file = "../q2.rq"
[[query.parameter]]
name = "naam"
type = "string"
"#
            )
        };
        let profiles = dir.join("profiles");
        std::fs::create_dir_all(&profiles).unwrap();
        std::fs::write(profiles.join("a.toml"), profile("1.0", true)).unwrap();
        std::fs::write(profiles.join("b.toml"), profile("0.9", false)).unwrap();
        let (registry, problems) = Registry::load_dir(&profiles).unwrap();
        assert_eq!(problems, vec![]);
        QueryIndex::new(registry)
    }

    fn credential(query: &str) -> CheckedCredential {
        CheckedCredential {
            id: "urn:uuid:c1".into(),
            profile: PROFILE.into(),
            profile_version: "1.0".into(),
            ontology: ONZ_G.into(),
            query: query.into(),
        }
    }

    fn check(index: &QueryIndex, credential: &CheckedCredential) -> Result<String, AllowError> {
        allow(index, &[ONZ_G.to_owned()], credential).map(|a| a.query.id.clone())
    }

    #[test]
    fn a_registered_query_is_allowed_whatever_its_layout() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        assert_eq!(check(&index, &credential(Q1)), Ok("1".into()));
        let relaid = format!("# comment\n{}", Q1.replace('\n', "\n   "));
        assert_eq!(check(&index, &credential(&relaid)), Ok("1".into()));
        assert_eq!(check(&index, &credential(Q2)), Ok("2".into()));
    }

    #[test]
    fn profile_must_be_registered_and_active() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        let mut unknown = credential(Q1);
        unknown.profile_version = "2.0".into();
        assert_eq!(
            check(&index, &unknown),
            Err(AllowError::ProfileNotRegistered {
                iri: PROFILE.into(),
                version: "2.0".into()
            })
        );
        let mut inactive = credential(Q1);
        inactive.profile_version = "0.9".into();
        assert_eq!(
            check(&index, &inactive),
            Err(AllowError::ProfileInactive {
                iri: PROFILE.into(),
                version: "0.9".into()
            })
        );
    }

    #[test]
    fn one_changed_character_is_not_in_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        let changed = Q1.replace("DISTINCT ?p", "DISTINCT ?k");
        assert_eq!(
            check(&index, &credential(&changed)),
            Err(AllowError::QueryNotInProfile {
                iri: PROFILE.into(),
                version: "1.0".into()
            })
        );
    }

    #[test]
    fn updates_service_from_and_construct_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        assert_eq!(
            check(&index, &credential("DELETE WHERE { ?s ?p ?o }")),
            Err(AllowError::QueryIsUpdate)
        );
        assert_eq!(
            check(
                &index,
                &credential("SELECT * WHERE { SERVICE <https://evil.test/sparql> { ?s ?p ?o } }")
            ),
            Err(AllowError::QueryRefused(QueryRefusal::Service))
        );
        assert_eq!(
            check(
                &index,
                &credential("SELECT * FROM <urn:other> WHERE { ?s ?p ?o }")
            ),
            Err(AllowError::QueryRefused(QueryRefusal::From))
        );
        assert_eq!(
            check(&index, &credential("CONSTRUCT WHERE { ?s ?p ?o }")),
            Err(AllowError::QueryRefused(QueryRefusal::Form("CONSTRUCT")))
        );
        assert!(matches!(
            check(&index, &credential("SELEKT nothing")),
            Err(AllowError::QuerySyntax(_))
        ));
    }

    #[test]
    fn the_ontology_must_be_the_profiles_and_offered() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        let mut other = credential(Q1);
        other.ontology = "http://purl.org/ozo/onz-zorg".into();
        assert_eq!(
            check(&index, &other),
            Err(AllowError::OntologyNotInProfile(
                "http://purl.org/ozo/onz-zorg".into()
            ))
        );
        assert_eq!(
            allow(&index, &[], &credential(Q1)).map(|_| ()),
            Err(AllowError::OntologyNotOffered(ONZ_G.into()))
        );
    }

    #[allow(clippy::unwrap_in_result)]
    fn bind(
        index: &QueryIndex,
        queries: &[&str],
        values: serde_json::Value,
    ) -> Result<Vec<Vec<(Variable, Term)>>, ParameterError> {
        let credentials: Vec<CheckedCredential> = queries.iter().map(|q| credential(q)).collect();
        let allowed: Vec<Allowed<'_>> = credentials
            .iter()
            .map(|c| allow(index, &[ONZ_G.to_owned()], c).unwrap())
            .collect();
        let values: BTreeMap<String, serde_json::Value> = serde_json::from_value(values).unwrap();
        bind_all(&allowed, &values)
    }

    #[test]
    fn parameters_bind_per_query() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        let bound = bind(
            &index,
            &[Q1, Q2],
            json!({"jaar": 2025, "kwartaal": "Q2", "naam": "x"}),
        )
        .unwrap();
        assert_eq!(
            bound,
            vec![
                vec![
                    (Variable::new_unchecked("jaar"), Literal::from(2025).into()),
                    (
                        Variable::new_unchecked("kwartaal"),
                        Literal::new_simple_literal("Q2").into()
                    ),
                ],
                vec![(
                    Variable::new_unchecked("naam"),
                    Literal::new_simple_literal("x").into()
                )],
            ]
        );
    }

    #[test]
    fn each_parameter_rule_breaks_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        let error = |values| bind(&index, &[Q1], values).unwrap_err();
        assert_eq!(
            error(json!({"jaar": 2025})),
            ParameterError::Missing("kwartaal".into())
        );
        assert_eq!(
            error(json!({"jaar": 2025, "kwartaal": "Q2", "naam": "x"})),
            ParameterError::Undeclared("naam".into())
        );
        assert!(matches!(
            error(json!({"jaar": "twintig", "kwartaal": "Q2"})),
            ParameterError::WrongType { .. }
        ));
        assert!(matches!(
            error(json!({"jaar": 1999, "kwartaal": "Q2"})),
            ParameterError::OutOfRange { .. }
        ));
        assert!(matches!(
            error(json!({"jaar": 2025, "kwartaal": "Q5"})),
            ParameterError::NotAllowed { .. }
        ));
    }

    #[test]
    fn sparql_in_a_value_stays_a_literal() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_profiles(dir.path());
        let attack = "x\" } ; DROP ALL ; SELECT * WHERE { ?s ?p \"";
        assert!(matches!(
            bind(&index, &[Q1], json!({"jaar": 2025, "kwartaal": attack})),
            Err(ParameterError::NotAllowed { .. })
        ));
        let bound = bind(&index, &[Q2], json!({"naam": attack})).unwrap();
        assert_eq!(
            bound[0][0].1,
            Term::from(Literal::new_simple_literal(attack))
        );
    }
}
