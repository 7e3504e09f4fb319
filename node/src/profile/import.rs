//! Registering a published profile folder as it is: the Afsprakenset publishes a profile version
//! as a folder of SPARQL files (`<id>.rq`, each opening with a comment header) and SHACL
//! parameter shapes (`<id>.ttl`). The importer writes the profile file (a *manifest*) that
//! registers those files where they are, never copying or editing them.
//!
//! Each query's parameters come from its shape. Where the shape is missing, empty or broken,
//! or declares a parameter the query does not use, they come from the query's header
//! (`# Parameters:`) and the `$(name)` placeholders of its body, typed by the Afsprakenset's
//! conventions ([`super::convention`]) or by the caller; a broken or empty shape is reported as
//! a warning. What cannot be registered is refused with one line: a folder that is not one, no
//! query, a query that does not parse or is not allowed, a parameter whose type is unknown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::header::{convention, QueryHeader};
use super::parameter::{ParameterSpec, ParameterType};
use super::shape::{read_shape_file, ShapeError};
use super::{parse_profile, Profile, ProfileError, Registry, Release};
use crate::store::{check_exchange_query, parse_read_only};

/// What to register: the folder and the profile's metadata, which the folder does not hold.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The published folder.
    pub dir: PathBuf,
    /// Profile IRI.
    pub iri: String,
    /// Profile version.
    pub version: String,
    /// Title; the folder's name when not given.
    pub title: Option<String>,
    /// Who asks.
    pub consumer: String,
    /// Purpose of the exchange.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Ontology IRIs the queries are written against.
    pub ontologies: Vec<String>,
    /// How answers are released.
    pub release: Release,
    /// Types for parameters that no shape declares and no convention knows, by name.
    pub parameter_types: BTreeMap<String, ParameterType>,
    /// The directory the manifest is written to: file paths in it are relative to this.
    pub manifest_dir: PathBuf,
}

/// Where a query's parameter declarations come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterSource {
    /// The published shape (path relative to the manifest), read when the profile loads.
    Shape(PathBuf),
    /// The query's header and placeholders, declared inline in the manifest.
    Header(Vec<ParameterSpec>),
}

/// One query of an imported folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedQuery {
    /// The file name without `.rq`, as the Afsprakenset numbers the indicator.
    pub id: String,
    /// The header's indicator line, else the id.
    pub title: String,
    /// The query file, relative to the manifest.
    pub file: PathBuf,
    /// The header's ontology version, if any.
    pub ontology_version: Option<String>,
    /// Its parameter declarations.
    pub parameters: ParameterSource,
}

/// Something registered differently from how it was published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportWarning {
    /// A shape that cannot be read; the header declares the parameters instead.
    #[error("{shape}: {reason}; parameters of {query}.rq from its header instead")]
    BrokenShape {
        /// Query id.
        query: String,
        /// Shape file name.
        shape: String,
        /// Why it cannot be read.
        reason: ShapeError,
    },
    /// A shape without a parameter; the header declares them instead.
    #[error("{shape}: declares no parameter; parameters of {query}.rq from its header instead")]
    EmptyShape {
        /// Query id.
        query: String,
        /// Shape file name.
        shape: String,
    },
    /// A shape declaring a parameter the query does not use; the header declares them instead.
    #[error("{shape}: declares `{name}`, which {query}.rq does not use; parameters from its header instead")]
    ShapeMismatch {
        /// Query id.
        query: String,
        /// Shape file name.
        shape: String,
        /// The parameter.
        name: String,
    },
    /// The header names a parameter the query does not use; it is not declared.
    #[error("{query}.rq: the header names `{entry}`, which the query does not use; not declared")]
    UnusedHeaderName {
        /// Query id.
        query: String,
        /// The entry as the header writes it (`?name` or `$(name)`).
        entry: String,
    },
    /// A `$(name)` placeholder the header does not name; declared all the same.
    #[error("{query}.rq: `$({name})` is not in the header's `# Parameters:`; declared from the placeholder")]
    PlaceholderNotInHeader {
        /// Query id.
        query: String,
        /// The name.
        name: String,
    },
    /// A shape with no query of the same name; ignored.
    #[error("{0}: no query of that name; ignored")]
    OrphanShape(String),
}

/// Why a folder cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The path is not a folder.
    #[error("{0}: not a folder")]
    NotAFolder(PathBuf),
    /// A file or the folder could not be read.
    #[error("{path}: cannot read: {reason}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The folder holds no query.
    #[error("{0}: no .rq file: not a published profile folder")]
    NoQueries(PathBuf),
    /// A query does not parse, or is not allowed in an exchange.
    #[error("{file}: {reason}")]
    Query {
        /// The query file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A shape declares a type the node cannot bind.
    #[error("{shape}: {reason}")]
    ShapeType {
        /// The shape file.
        shape: PathBuf,
        /// What it declares.
        reason: ShapeError,
    },
    /// A parameter without a shape whose type no convention gives.
    #[error("{file}: parameter `{name}` has no shape and no known type (give one: --parameter-type {name}=TYPE)")]
    UnknownParameterType {
        /// The query file.
        file: PathBuf,
        /// The parameter.
        name: String,
    },
    /// A metadata value that cannot be used.
    #[error("--{option} `{value}`: {reason}")]
    Option {
        /// The option.
        option: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The manifest would not load (a check the importer's own checks should already make).
    #[error("the profile would not load: {0}")]
    Invalid(ProfileError),
    /// Another profile file already registers this IRI and version.
    #[error("profile {iri} version {version} is already registered by {file}")]
    Clash {
        /// Profile IRI.
        iri: String,
        /// Version.
        version: String,
        /// The other file.
        file: PathBuf,
    },
    /// The target file exists and is not this profile version.
    #[error("{0} exists and is not this profile version; choose another --out")]
    Exists(PathBuf),
    /// The manifest could not be written.
    #[error("{path}: cannot write: {reason}")]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A folder ready to register: its queries, what was registered differently from how it was
/// published, the manifest text and the profile the node reads from it.
#[derive(Debug, Clone)]
pub struct ImportedProfile {
    /// The request, with the folder made absolute.
    pub request: ImportRequest,
    /// The queries, in the Afsprakenset's numeric order.
    pub queries: Vec<ImportedQuery>,
    /// Warnings, in file order.
    pub warnings: Vec<ImportWarning>,
    /// The manifest (TOML).
    pub manifest: String,
    /// The profile as the node reads the manifest.
    pub profile: Profile,
}

/// Reads a published folder and builds its manifest (see the module documentation). Nothing
/// is written.
pub fn import_folder(request: &ImportRequest) -> Result<ImportedProfile, ImportError> {
    check_options(request)?;
    let dir = &request.dir;
    if !dir.is_dir() {
        return Err(ImportError::NotAFolder(dir.clone()));
    }
    let read_error = |path: &Path, e: std::io::Error| ImportError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = dir.canonicalize().map_err(|e| read_error(dir, e))?;
    let manifest_dir = request
        .manifest_dir
        .canonicalize()
        .map_err(|e| read_error(&request.manifest_dir, e))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| read_error(&dir, e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort_by_key(|path| id_order(&stem(path)));
    let with_extension = |ext: &str| -> Vec<&PathBuf> {
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    let query_files = with_extension("rq");
    if query_files.is_empty() {
        return Err(ImportError::NoQueries(dir));
    }
    let mut warnings = Vec::new();
    let mut queries = Vec::new();
    for file in &query_files {
        queries.push(import_query(request, file, &manifest_dir, &mut warnings)?);
    }
    for shape in with_extension("ttl") {
        if !shape.with_extension("rq").is_file() {
            warnings.push(ImportWarning::OrphanShape(file_name(shape)));
        }
    }
    let mut request = request.clone();
    request.dir = dir;
    request.manifest_dir = manifest_dir;
    let manifest = super::manifest::render(&request, &queries);
    let profile = parse_profile(&manifest, &request.manifest_dir.join("imported.toml"))
        .map_err(ImportError::Invalid)?;
    Ok(ImportedProfile {
        request,
        queries,
        warnings,
        manifest,
        profile,
    })
}

fn check_options(request: &ImportRequest) -> Result<(), ImportError> {
    let option = |option, value: &str, reason| ImportError::Option {
        option,
        value: value.to_owned(),
        reason,
    };
    if oxigraph::model::NamedNode::new(&request.iri).is_err() {
        return Err(option("iri", &request.iri, "not an absolute IRI"));
    }
    let version_ok = !request.version.is_empty()
        && !request
            .version
            .contains(|c: char| c.is_whitespace() || c.is_control());
    if !version_ok {
        return Err(option(
            "version",
            &request.version,
            "give a version without spaces",
        ));
    }
    if let Some(bad) = request
        .ontologies
        .iter()
        .find(|o| oxigraph::model::NamedNode::new(o.as_str()).is_err())
    {
        return Err(option("ontology", bad, "not an absolute IRI"));
    }
    Ok(())
}

fn import_query(
    request: &ImportRequest,
    file: &Path,
    manifest_dir: &Path,
    warnings: &mut Vec<ImportWarning>,
) -> Result<ImportedQuery, ImportError> {
    let id = stem(file);
    let text = std::fs::read_to_string(file).map_err(|e| ImportError::Read {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let refused = |reason: String| ImportError::Query {
        file: file.to_path_buf(),
        reason,
    };
    let parsed = parse_read_only(&text).map_err(|e| refused(e.to_string()))?;
    check_exchange_query(&parsed).map_err(|e| refused(e.to_string()))?;
    let used = parsed.variables();
    let header = QueryHeader::read(&text);
    let shape = file.with_extension("ttl");
    let from_shape = match shape.is_file() {
        true => shape_parameters(&id, &shape, |name| used.contains(name), warnings)?,
        false => false,
    };
    let parameters = match from_shape {
        true => ParameterSource::Shape(relative_to(&shape, manifest_dir)),
        false => {
            let placeholders = kikv_sparql::translate(&text)
                .map(|t| t.placeholders)
                .unwrap_or_default();
            let mut names = Vec::new();
            for entry in header.parameters.iter().flatten() {
                // `$(name)` must be a placeholder of the body: a variable of that name is one
                // the query binds itself (NZa kostenonderzoek 3.2).
                let present = match entry.placeholder {
                    true => placeholders.contains(&entry.name),
                    false => used.contains(&entry.name),
                };
                match present {
                    true => names.push(entry.name.clone()),
                    false => warnings.push(ImportWarning::UnusedHeaderName {
                        query: id.clone(),
                        entry: match entry.placeholder {
                            true => format!("$({})", entry.name),
                            false => format!("?{}", entry.name),
                        },
                    }),
                }
            }
            for name in placeholders {
                if !names.contains(&name) {
                    warnings.push(ImportWarning::PlaceholderNotInHeader {
                        query: id.clone(),
                        name: name.clone(),
                    });
                    names.push(name);
                }
            }
            let specs = names
                .into_iter()
                .map(|name| declare(request, file, name))
                .collect::<Result<_, _>>()?;
            ParameterSource::Header(specs)
        }
    };
    Ok(ImportedQuery {
        title: header.title.unwrap_or_else(|| id.clone()),
        id,
        file: relative_to(file, manifest_dir),
        ontology_version: header.ontology,
        parameters,
    })
}

/// Whether the shape declares the query's parameters; a shape that cannot be used for another
/// reason than an unsupported type gives a warning and `false` (the header is used instead).
fn shape_parameters(
    id: &str,
    shape: &Path,
    used: impl Fn(&str) -> bool,
    warnings: &mut Vec<ImportWarning>,
) -> Result<bool, ImportError> {
    let name = file_name(shape);
    match read_shape_file(shape) {
        Err(reason) if reason.is_unsupported_type() => Err(ImportError::ShapeType {
            shape: shape.to_path_buf(),
            reason,
        }),
        Err(reason) => {
            warnings.push(ImportWarning::BrokenShape {
                query: id.to_owned(),
                shape: name,
                reason,
            });
            Ok(false)
        }
        Ok(specs) if specs.is_empty() => {
            warnings.push(ImportWarning::EmptyShape {
                query: id.to_owned(),
                shape: name,
            });
            Ok(false)
        }
        Ok(specs) => match specs.iter().find(|s| !used(&s.name)) {
            Some(unused) => {
                warnings.push(ImportWarning::ShapeMismatch {
                    query: id.to_owned(),
                    shape: name,
                    name: unused.name.clone(),
                });
                Ok(false)
            }
            None => Ok(true),
        },
    }
}

/// A header parameter's declaration: the caller's type, else the convention's.
fn declare(
    request: &ImportRequest,
    file: &Path,
    name: String,
) -> Result<ParameterSpec, ImportError> {
    if let Some(&kind) = request.parameter_types.get(&name) {
        return Ok(ParameterSpec::new(&name, kind));
    }
    convention(&name).ok_or_else(|| ImportError::UnknownParameterType {
        file: file.to_path_buf(),
        name,
    })
}

/// Writes the manifest to `out`, refusing when another profile file beside it registers the
/// same IRI and version, or when `out` exists and holds another profile version (importing the
/// same version again replaces it). The file appears whole or not at all.
pub fn write_manifest(imported: &ImportedProfile, out: &Path) -> Result<(), ImportError> {
    let write_error = |e: std::io::Error| ImportError::Write {
        path: out.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let profile = &imported.profile;
    let same_file =
        |other: &Path| other.canonicalize().ok() == out.canonicalize().ok() && out.exists();
    if let Ok((registry, _)) = Registry::load_dir(dir) {
        if let Some(other) = registry.get(&profile.iri, &profile.version) {
            if !same_file(&other.file) {
                return Err(ImportError::Clash {
                    iri: profile.iri.clone(),
                    version: profile.version.clone(),
                    file: other.file.clone(),
                });
            }
        }
    }
    if out.exists() {
        let replaces = super::read_profile(out)
            .is_ok_and(|p| p.iri == profile.iri && p.version == profile.version);
        if !replaces {
            return Err(ImportError::Exists(out.to_path_buf()));
        }
    }
    // Written beside the target under a name the registry does not read, then renamed.
    let partial = out.with_extension("toml.partial");
    std::fs::write(&partial, &imported.manifest).map_err(write_error)?;
    std::fs::rename(&partial, out).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        write_error(e)
    })
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `15.4.10` after `15.4.9`; names that are not numbers after those that are, by name.
fn id_order(id: &str) -> (Vec<u64>, String) {
    let numbers = id
        .split('.')
        .map(|n| n.parse().unwrap_or(u64::MAX))
        .collect();
    (numbers, id.to_owned())
}

/// [`relative_to`] as text with `/` separators, as a manifest writes it.
pub(super) fn relative_path(path: &Path, base: &Path) -> String {
    relative_to(path, base).to_string_lossy().replace('\\', "/")
}

/// `path` relative to the directory `base` (both absolute and canonical), with `..` steps.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    for component in &path[common..] {
        relative.push(component);
    }
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_manifest() {
        assert_eq!(
            relative_to(Path::new("/r/queries/a/1.rq"), Path::new("/r/profiles")),
            PathBuf::from("../queries/a/1.rq")
        );
        assert_eq!(
            relative_to(Path::new("/r/p/1.rq"), Path::new("/r/p")),
            PathBuf::from("1.rq")
        );
    }

    #[test]
    fn ids_sort_as_numbers() {
        let mut ids = vec!["15.4.10", "2.1", "15.4.9", "a", "10.1"];
        ids.sort_by_key(|id| id_order(id));
        assert_eq!(ids, ["2.1", "10.1", "15.4.9", "15.4.10", "a"]);
    }
}
