//! Loading RDF files into datasets.
//!
//! One `kikv load` is all-or-nothing: every file is parsed into one Oxigraph bulk load, which
//! makes nothing visible until it commits, and the registry then points the datasets at their
//! graphs, and the queries at a served graph rebuilt from them, in one transaction. A syntax
//! error anywhere leaves the store exactly as it was.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxigraph::io::{RdfFormat, RdfParseError, RdfParser};
use oxigraph::model::{GraphName, NamedNode, Quad};
use oxigraph::store::StorageError;

use super::dataset::{fresh_graph_name, Dataset, RegistryChange, PHYSICAL_PREFIX, SERVED_PREFIX};
use super::{NodeStore, StoreError};

/// Why a load was refused. In every case nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The format could not be told from the extension, or `--format` named no known format.
    #[error("{file}: unknown RDF format `{format}` (use .ttl, .trig, .nt, .nq, .rdf, .xml, .jsonld, or --format)")]
    UnknownFormat {
        /// The file.
        file: PathBuf,
        /// The extension or format name that was not recognised.
        format: String,
    },
    /// The file is not valid in its format.
    #[error("{file}, line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// The parser's message.
        message: String,
    },
    /// The dataset IRI given with `--graph` (or an ontology IRI) is not an absolute IRI.
    #[error("`{iri}` is not an absolute IRI: {reason}")]
    InvalidIri {
        /// The text given.
        iri: String,
        /// The parser's reason.
        reason: String,
    },
    /// No file was given.
    #[error("no file to load")]
    NoInput,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to load and where. Also the body of the admin listener's `POST /admin/load`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoadRequest {
    /// The files.
    pub files: Vec<PathBuf>,
    /// Dataset IRI for all files; when absent each file becomes the dataset
    /// `urn:kikv:dataset:<file name without extension>`.
    pub graph: Option<String>,
    /// Replace the dataset's current version instead of adding to it.
    pub replace: bool,
    /// Format name or extension for all files, overriding their extensions.
    pub format: Option<String>,
    /// Ontology IRIs the datasets conform to.
    pub ontologies: Vec<String>,
    /// Memory target of the bulk loader, in megabytes.
    pub memory_mb: usize,
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The datasets as registered after the load.
    pub datasets: Vec<Dataset>,
    /// Triples read from the files.
    pub triples_read: u64,
    /// Time from the first byte read to the registry commit.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Triples read per second.
    pub fn rate(&self) -> f64 {
        self.triples_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Receives progress while files are read; the command line draws a bar with it.
pub trait LoadProgress: Send + Sync {
    /// A file of `bytes` bytes is about to be read.
    fn start_file(&self, file: &Path, bytes: u64);
    /// `bytes` more bytes were read.
    fn read(&self, bytes: u64);
    /// The running total of triples parsed.
    fn triples(&self, total: u64);
}

/// Reports nothing.
pub struct NoProgress;

impl LoadProgress for NoProgress {
    fn start_file(&self, _: &Path, _: u64) {}
    fn read(&self, _: u64) {}
    fn triples(&self, _: u64) {}
}

/// One file of a load with its format and target dataset.
#[derive(Debug, Clone)]
pub struct RdfInput {
    /// The file.
    pub file: PathBuf,
    /// Its format.
    pub format: RdfFormat,
    /// The dataset IRI it goes into.
    pub dataset: String,
}

impl LoadRequest {
    /// Checks formats and IRIs of every file before anything is read.
    pub fn plan(&self) -> Result<Vec<RdfInput>, LoadError> {
        if self.files.is_empty() {
            return Err(LoadError::NoInput);
        }
        for ontology in &self.ontologies {
            check_iri(ontology)?;
        }
        self.files
            .iter()
            .map(|file| {
                let dataset = match &self.graph {
                    Some(graph) => graph.clone(),
                    None => default_dataset_iri(file),
                };
                check_iri(&dataset)?;
                Ok(RdfInput {
                    format: format_of(file, self.format.as_deref())?,
                    file: file.clone(),
                    dataset,
                })
            })
            .collect()
    }
}

fn check_iri(iri: &str) -> Result<(), LoadError> {
    NamedNode::new(iri)
        .map(|_| ())
        .map_err(|e| LoadError::InvalidIri {
            iri: iri.into(),
            reason: e.to_string(),
        })
}

fn default_dataset_iri(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("urn:kikv:dataset:{safe}")
}

/// The format named by `--format` or, failing that, by the file's extension.
pub fn format_of(file: &Path, format: Option<&str>) -> Result<RdfFormat, LoadError> {
    let name = match format {
        Some(name) => name.to_owned(),
        None => file
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let by_name = match name.to_ascii_lowercase().as_str() {
        "turtle" => Some(RdfFormat::Turtle),
        "trig" => Some(RdfFormat::TriG),
        "ntriples" | "n-triples" => Some(RdfFormat::NTriples),
        "nquads" | "n-quads" => Some(RdfFormat::NQuads),
        "rdfxml" | "rdf/xml" => Some(RdfFormat::RdfXml),
        "json-ld" => RdfFormat::from_extension("jsonld"),
        _ => None,
    };
    by_name
        .or_else(|| RdfFormat::from_extension(&name))
        .or_else(|| RdfFormat::from_media_type(&name))
        .filter(|f| *f != RdfFormat::N3)
        .ok_or_else(|| LoadError::UnknownFormat {
            file: file.to_path_buf(),
            format: name,
        })
}

impl NodeStore {
    /// Loads the files of `request` as one all-or-nothing operation.
    pub fn load(
        &self,
        request: &LoadRequest,
        progress: &dyn LoadProgress,
    ) -> Result<LoadReport, LoadError> {
        let inputs = request.plan()?;
        let _one_writer = self.writing();
        let started = Instant::now();
        let targets = self.physical_targets(&inputs, request.replace)?;
        // The served graph of the registry after this load is built in the same bulk load:
        // every parsed triple goes into its dataset's new graph and into the served graph, so
        // the files are read and the new versions written once; only the datasets the load
        // leaves alone (and the current versions added to) are copied.
        let served = fresh_graph_name(SERVED_PREFIX);
        let others: Vec<NamedNode> = self
            .datasets()?
            .into_iter()
            .filter(|other| !targets.contains_key(&other.iri))
            .map(|other| NamedNode::new_unchecked(other.physical_graph))
            .collect();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut loader = self
            .store
            .bulk_loader()
            .with_max_memory_size_in_megabytes(request.memory_mb);
        for target in targets.values() {
            if let Some(current) = &target.current {
                let current = [NamedNode::new_unchecked(&current.physical_graph)];
                self.copy_graphs(&mut loader, &current, &target.graph)?;
                self.copy_graphs(&mut loader, &current, &served)?;
            }
        }
        self.copy_graphs(&mut loader, &others, &served)?;
        for input in &inputs {
            let graphs = [targets[&input.dataset].graph.clone(), served.clone()];
            load_file(&mut loader, input, &graphs, &counter, progress)?;
        }
        loader.commit().map_err(|e| StoreError::Storage {
            path: self.path.clone(),
            source: e,
        })?;
        // Inferred types go into the new graphs before they become visible, so a replaced
        // dataset is never served without them. A load may have brought class hierarchy (an
        // ontology) that other datasets need: materialise them too (only types are added, so
        // doing it in place is harmless). The served graph holds every type of every served
        // dataset and the hierarchy is the store's, so materialising it adds exactly the union
        // of what the datasets got.
        for graph in targets
            .values()
            .map(|target| &target.graph)
            .chain(&others)
            .chain([&served])
        {
            self.materialise(graph)?;
        }
        let datasets = self.register_loaded(&inputs, &targets, &request.ontologies, &served)?;
        Ok(LoadReport {
            datasets,
            triples_read: counter.load(std::sync::atomic::Ordering::Relaxed),
            elapsed: started.elapsed(),
        })
    }

    /// A fresh physical graph for each dataset of the load, and the graph whose triples it starts
    /// from: the current version when adding to a dataset, none for a new dataset or a replace.
    /// Adding thus builds a new version aside like a replace does, so that neither a failure
    /// nor a crash after the bulk load can leave triples in a dataset that the served graph
    /// lacks.
    fn physical_targets(
        &self,
        inputs: &[RdfInput],
        replace: bool,
    ) -> Result<BTreeMap<String, Target>, StoreError> {
        let mut targets = BTreeMap::new();
        for input in inputs {
            if targets.contains_key(&input.dataset) {
                continue;
            }
            let current = match self.dataset(&input.dataset)? {
                Some(existing) if !replace => Some(existing),
                _ => None,
            };
            targets.insert(
                input.dataset.clone(),
                Target {
                    graph: fresh_graph_name(PHYSICAL_PREFIX),
                    current,
                },
            );
        }
        Ok(targets)
    }

    fn register_loaded(
        &self,
        inputs: &[RdfInput],
        targets: &BTreeMap<String, Target>,
        ontologies: &[String],
        served: &NamedNode,
    ) -> Result<Vec<Dataset>, StoreError> {
        let loaded_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut datasets = Vec::new();
        for (iri, Target { graph, current }) in targets {
            let previous = current;
            let mut sources: Vec<String> =
                previous.iter().flat_map(|d| d.sources.clone()).collect();
            sources.extend(
                inputs
                    .iter()
                    .filter(|i| &i.dataset == iri)
                    .map(|i| i.file.display().to_string()),
            );
            sources.sort();
            sources.dedup();
            let mut all_ontologies: Vec<String> =
                previous.iter().flat_map(|d| d.ontologies.clone()).collect();
            all_ontologies.extend(ontologies.iter().cloned());
            all_ontologies.sort();
            all_ontologies.dedup();
            datasets.push(Dataset {
                iri: iri.clone(),
                physical_graph: graph.as_str().to_owned(),
                triples: self.count_graph(graph)?,
                loaded_at: loaded_at.clone(),
                sources,
                ontologies: all_ontologies,
            });
        }
        self.commit_registry(&RegistryChange {
            upsert: &datasets,
            remove: &[],
            served,
        })?;
        Ok(datasets)
    }

    /// Adds `rdf:type` triples for every superclass (`rdfs:subClassOf`, transitively) of the
    /// types in `graph`, reading the class hierarchy from all datasets, so a query for a
    /// superclass finds instances typed with a subclass.
    fn materialise(&self, graph: &NamedNode) -> Result<u64, StoreError> {
        crate::reference::reasoning::materialise_subclasses(&self.store, graph.as_ref().into())
            .map_err(|e| StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })
    }

    /// Counts the triples of a graph. Through SPARQL `COUNT`, which works on the store's
    /// encoded terms: iterating quads would decode every term and take several times longer.
    fn count_graph(&self, graph: &NamedNode) -> Result<u64, StoreError> {
        let failed = |reason: String| StoreError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(reason),
        };
        let query = format!("SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}");
        let results = oxigraph::sparql::SparqlEvaluator::new()
            .parse_query(&query)
            .map_err(|e| failed(e.to_string()))?
            .on_store(&self.store)
            .execute()
            .map_err(|e| failed(e.to_string()))?;
        if let oxigraph::sparql::QueryResults::Solutions(mut solutions) = results {
            if let Some(solution) = solutions.next() {
                let solution = solution.map_err(|e| failed(e.to_string()))?;
                if let Some(oxigraph::model::Term::Literal(n)) = solution.get("n") {
                    return n.value().parse().map_err(|_| failed("bad count".into()));
                }
            }
        }
        Err(failed("no count".into()))
    }
}

/// Where one dataset of a load goes.
struct Target {
    /// The new physical graph.
    graph: NamedNode,
    /// The version it adds to, when adding.
    current: Option<Dataset>,
}

/// Streams one file into the bulk loader, every triple placed in each of `graphs`.
fn load_file(
    loader: &mut oxigraph::store::BulkLoader<'_>,
    input: &RdfInput,
    graphs: &[NamedNode],
    counter: &Arc<std::sync::atomic::AtomicU64>,
    progress: &dyn LoadProgress,
) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        file: input.file.clone(),
        source,
    };
    let file = File::open(&input.file).map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    progress.start_file(&input.file, bytes);
    let base = base_iri(&input.file);
    let mut parser = RdfParser::from_format(input.format).rename_blank_nodes();
    if let Some(base) = base {
        parser = parser
            .with_base_iri(base)
            .map_err(|e| LoadError::InvalidIri {
                iri: input.file.display().to_string(),
                reason: e.to_string(),
            })?;
    }
    let reader = BufReader::with_capacity(
        1 << 20,
        CountingReader {
            inner: file,
            progress,
        },
    );
    let quads = parser.for_reader(reader).flat_map(|quad| match quad {
        Ok(q) => {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(10_000) {
                progress.triples(n);
            }
            graphs
                .iter()
                .map(|graph| {
                    Ok(Quad::new(
                        q.subject.clone(),
                        q.predicate.clone(),
                        q.object.clone(),
                        GraphName::NamedNode(graph.clone()),
                    ))
                })
                .collect::<Vec<_>>()
        }
        Err(e) => vec![Err(e)],
    });
    let result: Result<(), QuadLoadError> = loader.load_ok_quads(quads);
    progress.triples(counter.load(std::sync::atomic::Ordering::Relaxed));
    result.map_err(|e| match e {
        QuadLoadError::Parse(e) => parse_error(&input.file, e),
        QuadLoadError::Storage(e) => LoadError::Store(StoreError::Storage {
            path: input.file.clone(),
            source: e,
        }),
    })
}

/// The error type the bulk loader needs to stop on the first bad quad.
enum QuadLoadError {
    Parse(RdfParseError),
    Storage(StorageError),
}

impl From<RdfParseError> for QuadLoadError {
    fn from(e: RdfParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<StorageError> for QuadLoadError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

fn parse_error(file: &Path, error: RdfParseError) -> LoadError {
    match error {
        RdfParseError::Io(source) => LoadError::Io {
            file: file.to_path_buf(),
            source,
        },
        RdfParseError::Syntax(syntax) => {
            // Oxigraph counts lines and columns from 0; editors count from 1.
            let (line, column) = syntax
                .location()
                .map_or((0, 0), |l| (l.start.line + 1, l.start.column + 1));
            LoadError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                message: syntax.to_string(),
            }
        }
    }
}

/// Relative IRIs in a file resolve against the file's own `file:` URL.
fn base_iri(file: &Path) -> Option<String> {
    let absolute = std::fs::canonicalize(file).ok()?;
    let path = absolute.to_str()?;
    let encoded: String = path
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            c if c.is_ascii_graphic() || c == '/' => c.to_string(),
            c => c
                .encode_utf8(&mut [0; 4])
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect(),
        })
        .collect();
    Some(format!("file://{encoded}"))
}

/// Counts bytes for the progress bar as they are read.
struct CountingReader<'a, R> {
    inner: R,
    progress: &'a dyn LoadProgress,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.read(n as u64);
        Ok(n)
    }
}
