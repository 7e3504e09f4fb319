//! Exchange profiles (*uitwisselprofielen*): which questions a consumer may ask this node.
//!
//! A profile version is one TOML file in the profiles directory. It names the profile IRI and
//! version, who asks and why (consumer, purpose, legal basis), the ontologies it is written
//! against, how answers are released (`auto`, or `manual` with a deadline), and its queries:
//! an id as the Afsprakenset numbers it, a SPARQL file, and the parameters with their type and
//! bounds (inline, or from a SHACL shape file). See `profiles/README.md` for the format.

mod header;
mod import;
mod manifest;
mod parameter;
mod shape;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::parse_toml;
use crate::store::{check_exchange_query, parse_read_only, QueryError, ReadOnlyQuery};

pub use header::{convention, HeaderParameter, QueryHeader};
pub use import::{
    import_folder, write_manifest, ImportError, ImportRequest, ImportWarning, ImportedProfile,
    ImportedQuery, ParameterSource,
};
pub use parameter::{
    bind_parameters, presentation_value, read_parameter_argument, read_parameter_value, Bound,
    BoundError, ParameterArgumentError, ParameterError, ParameterSpec, ParameterType,
    ParameterValueError, UnknownParameterType,
};
pub use shape::{read_shape_file, ShapeError};

/// What is wrong with a profile file or one of its queries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(String),
    /// The file is not valid TOML or does not follow the profile format.
    #[error("line {line}, column {column}: key `{key}`: {reason}")]
    Format {
        /// Dotted key.
        key: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Why.
        reason: String,
    },
    /// A field has a value that parses but cannot be used.
    #[error("key `{key}`: {reason}")]
    Value {
        /// Dotted key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The SPARQL file of a query could not be read.
    #[error("query {id}: cannot read {file}: {reason}")]
    QueryFile {
        /// Query id.
        id: String,
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A query does not parse, is an update, or breaks the exchange policy.
    #[error("query {id}: {reason}")]
    Query {
        /// Query id.
        id: String,
        /// Why.
        reason: String,
    },
    /// A declared parameter is not a variable of the query.
    #[error("query {id}: parameter `{name}` is not a variable the query uses")]
    UnusedParameter {
        /// Query id.
        id: String,
        /// Parameter name.
        name: String,
    },
    /// Two queries of one profile have the same id, or two files the same profile version.
    #[error("{0} is defined twice")]
    Duplicate(String),
}

/// How answers of a profile leave the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Release {
    /// Answered as soon as verified.
    Auto,
    /// Held until the operator approves or rejects, or the deadline passes.
    Manual {
        /// Time the operator has to decide.
        deadline: Duration,
    },
}

/// A registered profile version.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Profile IRI.
    pub iri: String,
    /// Version.
    pub version: String,
    /// Title.
    pub title: String,
    /// Who asks (for example "Zorgkantoren").
    pub consumer: String,
    /// Purpose of the exchange.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Ontology IRIs the queries are written against.
    pub ontologies: Vec<String>,
    /// Whether answers go out at once or wait for the operator.
    pub release: Release,
    /// Active profiles are served; inactive ones are kept for the record only.
    pub active: bool,
    /// Its queries.
    pub queries: Vec<ProfileQuery>,
    /// The file it was read from.
    pub file: PathBuf,
}

/// One query of a profile.
#[derive(Debug, Clone)]
pub struct ProfileQuery {
    /// Id as numbered by the Afsprakenset, e.g. "1.1".
    pub id: String,
    /// Title.
    pub title: String,
    /// The SPARQL file.
    pub file: PathBuf,
    /// The SPARQL text as in the file.
    pub text: String,
    /// The parsed query.
    pub query: ReadOnlyQuery,
    /// Declared parameters.
    pub parameters: Vec<ParameterSpec>,
}

impl Profile {
    /// The query with this id.
    pub fn query(&self, id: &str) -> Option<&ProfileQuery> {
        self.queries.iter().find(|q| q.id == id)
    }

    /// The registered query equal to `query` after parsing (whitespace, comments, prefixes
    /// and the parser's invented names do not matter).
    pub fn matching_query(&self, query: &ReadOnlyQuery) -> Option<&ProfileQuery> {
        self.queries
            .iter()
            .find(|q| q.query.canonical() == query.canonical())
    }
}

/// A problem found in one profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileProblem {
    /// The profile file.
    pub file: PathBuf,
    /// What is wrong.
    pub error: ProfileError,
}

impl std::fmt::Display for ProfileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.error)
    }
}

/// All profile versions of a node.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    profiles: Vec<Profile>,
}

impl Registry {
    /// Reads every `*.toml` file of `dir`. Files with problems are left out of the registry and
    /// reported, so `kikv profiles check` can list them all and `kikv serve` can refuse to start.
    pub fn load_dir(dir: &Path) -> Result<(Self, Vec<ProfileProblem>), ProfileProblem> {
        let entries = std::fs::read_dir(dir).map_err(|e| ProfileProblem {
            file: dir.to_path_buf(),
            error: ProfileError::Read(e.to_string()),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        let mut registry = Self::default();
        let mut problems = Vec::new();
        for file in files {
            let loaded = read_profile(&file).and_then(|p| registry.check_unique(p));
            match loaded {
                Ok(profile) => registry.profiles.push(profile),
                Err(error) => problems.push(ProfileProblem { file, error }),
            }
        }
        Ok((registry, problems))
    }

    fn check_unique(&self, profile: Profile) -> Result<Profile, ProfileError> {
        if self.get(&profile.iri, &profile.version).is_some() {
            return Err(ProfileError::Duplicate(format!(
                "profile {} version {}",
                profile.iri, profile.version
            )));
        }
        Ok(profile)
    }

    /// All profiles, in file name order.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The profile with this IRI and version.
    pub fn get(&self, iri: &str, version: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.iri == iri && p.version == version)
    }
}

/// The file format (see the module documentation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    iri: String,
    version: String,
    title: String,
    consumer: String,
    purpose: String,
    legal_basis: String,
    #[serde(default)]
    ontologies: Vec<String>,
    #[serde(default)]
    release: ReleaseFile,
    #[serde(default = "default_true")]
    active: bool,
    #[serde(rename = "query", default)]
    queries: Vec<QueryFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseFile {
    #[serde(default)]
    mode: ReleaseMode,
    deadline_hours: Option<u64>,
    /// A deadline in seconds instead of hours, for short-lived test and demo profiles.
    deadline_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ReleaseMode {
    #[default]
    Auto,
    Manual,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    id: String,
    #[serde(default)]
    title: String,
    file: PathBuf,
    parameter_shape: Option<PathBuf>,
    #[serde(rename = "parameter", default)]
    parameters: Vec<ParameterFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterFile {
    name: String,
    #[serde(rename = "type")]
    kind: ParameterType,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    #[serde(rename = "in", default)]
    allowed: Vec<toml::Value>,
    pattern: Option<String>,
    #[serde(default = "default_true")]
    required: bool,
    description: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Reads and checks one profile file.
pub fn read_profile(file: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(file).map_err(|e| ProfileError::Read(e.to_string()))?;
    parse_profile(&text, file)
}

/// Checks the text of a profile file as if it were read from `file` (whose directory the query
/// and shape paths are relative to), without reading `file` itself: an importer checks a
/// manifest this way before it writes it.
pub fn parse_profile(text: &str, file: &Path) -> Result<Profile, ProfileError> {
    let parsed: ProfileFile = parse_toml(text).map_err(|p| ProfileError::Format {
        key: p.key,
        line: p.line,
        column: p.column,
        reason: p.reason,
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let deadline_secs = match (
        parsed.release.deadline_hours,
        parsed.release.deadline_seconds,
    ) {
        (Some(_), Some(_)) => {
            return Err(value(
                "release.deadline_seconds",
                "give deadline_hours or deadline_seconds, not both",
            ))
        }
        (hours, seconds) => hours.map(|h| h.saturating_mul(3600)).or(seconds),
    };
    let release =
        match (parsed.release.mode, deadline_secs) {
            (ReleaseMode::Auto, None) => Release::Auto,
            (ReleaseMode::Auto, Some(_)) => {
                return Err(value(
                    "release.deadline_hours",
                    "only a manual release has a deadline",
                ))
            }
            (ReleaseMode::Manual, Some(secs)) if secs > 0 => Release::Manual {
                deadline: Duration::from_secs(secs),
            },
            (ReleaseMode::Manual, _) => return Err(value(
                "release.deadline_hours",
                "a manual release needs a deadline (deadline_hours or deadline_seconds) above 0",
            )),
        };
    if oxigraph::model::NamedNode::new(&parsed.iri).is_err() {
        return Err(value("iri", "must be an absolute IRI"));
    }
    for ontology in &parsed.ontologies {
        if oxigraph::model::NamedNode::new(ontology).is_err() {
            return Err(value(
                "ontologies",
                &format!("`{ontology}` is not an absolute IRI"),
            ));
        }
    }
    let mut queries: Vec<ProfileQuery> = Vec::new();
    for query in parsed.queries {
        if queries.iter().any(|q| q.id == query.id) {
            return Err(ProfileError::Duplicate(format!("query {}", query.id)));
        }
        queries.push(read_query(base, query)?);
    }
    Ok(Profile {
        iri: parsed.iri,
        version: parsed.version,
        title: parsed.title,
        consumer: parsed.consumer,
        purpose: parsed.purpose,
        legal_basis: parsed.legal_basis,
        ontologies: parsed.ontologies,
        release,
        active: parsed.active,
        queries,
        file: file.to_path_buf(),
    })
}

fn value(key: &str, reason: &str) -> ProfileError {
    ProfileError::Value {
        key: key.into(),
        reason: reason.into(),
    }
}

fn read_query(base: &Path, query: QueryFile) -> Result<ProfileQuery, ProfileError> {
    let id = query.id;
    let file = base.join(&query.file);
    let text = std::fs::read_to_string(&file).map_err(|e| ProfileError::QueryFile {
        id: id.clone(),
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let refused = |reason: String| ProfileError::Query {
        id: id.clone(),
        reason,
    };
    let parsed = parse_read_only(&text).map_err(|e: QueryError| refused(e.to_string()))?;
    check_exchange_query(&parsed).map_err(|e| refused(e.to_string()))?;
    let mut parameters = match &query.parameter_shape {
        Some(shape) => read_shape_file(&base.join(shape))
            .map_err(|e| refused(format!("parameter shape {}: {e}", shape.display())))?,
        None => Vec::new(),
    };
    for declared in query.parameters {
        parameters.push(inline_parameter(&id, declared)?);
    }
    let used = parsed.variables();
    if let Some(unused) = parameters.iter().find(|p| !used.contains(&p.name)) {
        return Err(ProfileError::UnusedParameter {
            id,
            name: unused.name.clone(),
        });
    }
    Ok(ProfileQuery {
        id,
        title: query.title,
        file,
        text,
        query: parsed,
        parameters,
    })
}

fn inline_parameter(id: &str, declared: ParameterFile) -> Result<ParameterSpec, ProfileError> {
    let key = |field: &str| format!("query {id}, parameter {}: {field}", declared.name);
    let lexical = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let bound = |field: &str, v: &Option<toml::Value>| {
        v.as_ref()
            .map(|v| parameter::parse_bound(declared.kind, &lexical(v)))
            .transpose()
            .map_err(|reason| value(&key(field), &reason.to_string()))
    };
    if let Some(pattern) = &declared.pattern {
        regex::Regex::new(pattern).map_err(|e| value(&key("pattern"), &e.to_string()))?;
    }
    Ok(ParameterSpec {
        min: bound("min", &declared.min)?,
        max: bound("max", &declared.max)?,
        allowed: declared.allowed.iter().map(lexical).collect(),
        name: declared.name,
        kind: declared.kind,
        pattern: declared.pattern,
        required: declared.required,
        description: declared.description,
    })
}

#[cfg(test)]
mod release_tests {
    use super::*;

    #[allow(clippy::unwrap_in_result)]
    fn release_of(section: &str) -> Result<Release, ProfileError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let text = format!(
            "iri = \"https://p.test\"\nversion = \"1\"\ntitle = \"t\"\nconsumer = \"c\"\n\
             purpose = \"p\"\nlegal_basis = \"l\"\nontologies = []\n[release]\n{section}\n"
        );
        std::fs::write(&file, text).unwrap();
        read_profile(&file).map(|p| p.release)
    }

    #[test]
    fn a_manual_deadline_is_given_in_hours_or_seconds() {
        assert_eq!(
            release_of("mode = \"manual\"\ndeadline_hours = 2"),
            Ok(Release::Manual {
                deadline: Duration::from_secs(7200)
            })
        );
        assert_eq!(
            release_of("mode = \"manual\"\ndeadline_seconds = 5"),
            Ok(Release::Manual {
                deadline: Duration::from_secs(5)
            })
        );
        let both = release_of("mode = \"manual\"\ndeadline_hours = 1\ndeadline_seconds = 5");
        assert_eq!(
            both.unwrap_err().to_string(),
            "key `release.deadline_seconds`: give deadline_hours or deadline_seconds, not both"
        );
        let none = release_of("mode = \"manual\"\ndeadline_seconds = 0");
        assert_eq!(
            none.unwrap_err().to_string(),
            "key `release.deadline_hours`: a manual release needs a deadline \
             (deadline_hours or deadline_seconds) above 0"
        );
        assert!(release_of("mode = \"auto\"\ndeadline_seconds = 5").is_err());
    }
}
