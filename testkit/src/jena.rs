//! Apache Jena 4.5 ARQ (Debian's `libapache-jena-java`) as the reference engine: the oracle
//! `testkit/oracle/JenaOracle.java` found and compiled against Jena's jars, for the
//! differential test (`node/tests/oracle/jena_differential.rs`, which reads full answers) and
//! the official benchmark (`node/benches/official.rs`, [`Jena::run`]: times and row counts, one
//! JVM with a bounded heap).
//!
//! The classpath: Debian's unversioned jars of the package and of the packages it depends on,
//! directly in `/usr/share/java` (the versioned names are links to the same files), without
//! slf4j's bindings and bridges (several bindings on one classpath make slf4j complain; with
//! the API alone it logs nothing).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const ORACLE_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/oracle/JenaOracle.java");

/// A compiled oracle.
pub struct Jena {
    /// Keeps the classes and extracted resources alive.
    _dir: tempfile::TempDir,
    /// The JVM's classpath: the oracle's classes, the Xerces resources, Jena's jars.
    pub classpath: String,
}

/// One query run for Jena: the query file and its parameters as N-Triples terms.
pub struct JenaJob {
    /// Unique key of the run.
    pub key: String,
    /// The query file, read by the JVM.
    pub query: PathBuf,
    /// `$(name)` placeholders, replaced in the text.
    pub placeholders: BTreeMap<String, String>,
    /// `?name` variables, substituted in the parsed query.
    pub bindings: BTreeMap<String, String>,
}

/// How often a fast run is timed: a run that answers in under `under` runs again until it has
/// `samples` times, and its time is their median. One sample of a run of a millisecond or two is
/// mostly noise (scheduling, caches, a JIT compilation); the benchmark times every engine so.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    /// Runs faster than this are repeated.
    pub under: Duration,
    /// How many times a repeated run is timed in all (odd, so that the median is one of them).
    pub samples: usize,
}

impl Sampling {
    /// One sample of every run.
    pub const ONCE: Self = Self {
        under: Duration::ZERO,
        samples: 1,
    };
}

/// Jena's outcome of one run.
#[derive(Debug, Clone)]
pub struct JenaResult {
    /// Time of parse, substitution and evaluation to the last row (the median of the samples
    /// when the run was repeated, see [`Sampling`]).
    pub time: Duration,
    /// Rows of the answer, or the error.
    pub rows: Result<usize, String>,
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn classpath() -> Result<Vec<PathBuf>, String> {
    let depends = output(
        "dpkg-query",
        &["-W", "-f=${Depends}", "libapache-jena-java"],
    )?;
    let mut packages = vec!["libapache-jena-java".to_owned()];
    for alternative in depends.split(',') {
        let name = alternative.split('|').next().unwrap_or("").trim();
        let name = name.split([' ', '(']).next().unwrap_or("").trim();
        if !name.is_empty() {
            packages.push(name.to_owned());
        }
    }
    let mut jars = Vec::new();
    for package in &packages {
        let Ok(files) = output("dpkg", &["-L", package]) else {
            continue;
        };
        for line in files.lines() {
            let path = Path::new(line);
            let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            let versioned = name
                .split('-')
                .any(|part| part.starts_with(|c: char| c.is_ascii_digit()));
            let binding = name.contains("slf4j") && name != "slf4j-api.jar";
            if path.parent() == Some(Path::new("/usr/share/java"))
                && name.ends_with(".jar")
                && !versioned
                && !binding
                && path.exists()
            {
                jars.push(path.to_path_buf());
            }
        }
    }
    jars.sort();
    jars.dedup();
    if !jars.iter().any(|j| j.ends_with("jena-arq.jar")) {
        return Err("jena-arq.jar not found (install libapache-jena-java)".into());
    }
    Ok(jars)
}

/// Debian's jena-core.jar keeps the resources of its shaded Xerces under
/// `org/apache/jena/ext/xerces/`, but the shaded code looks them up under `xerces/` (a
/// packaging bug: typed literals such as `xsd:date` fail with a MissingResourceException).
/// Extracts them with the JDK's `jar` tool and places them at both names in `target`.
fn xerces_resources(core: &Path, target: &Path) -> Result<(), String> {
    const PREFIX: &str = "org/apache/jena/ext/xerces/";
    let listing = output("jar", &["tf", &core.to_string_lossy()])?;
    let resources: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with(PREFIX) && !l.ends_with('/') && !l.ends_with(".class"))
        .collect();
    let status = Command::new("jar")
        .arg("xf")
        .arg(core)
        .args(&resources)
        .current_dir(target)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("jar xf {} failed", core.display()));
    }
    for resource in resources {
        let to = target
            .join("xerces")
            .join(resource.trim_start_matches(PREFIX));
        std::fs::create_dir_all(to.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::copy(target.join(resource), &to).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Jena {
    /// The JDK's tools and Jena's jars, or why they are missing.
    pub fn find() -> Result<Vec<PathBuf>, String> {
        for tool in ["java", "javac", "jar"] {
            output(tool, &["--version"])?;
        }
        classpath()
    }

    /// Extracts the resources and compiles the oracle against `jars` (from [`Jena::find`]);
    /// a failure here is a broken harness, not a missing Jena.
    pub fn compile(jars: Vec<PathBuf>) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let classes = dir.path().join("classes");
        let resources = dir.path().join("resources");
        std::fs::create_dir_all(&classes).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&resources).map_err(|e| e.to_string())?;
        let core = jars
            .iter()
            .find(|j| j.ends_with("jena-core.jar"))
            .ok_or("jena-core.jar not found")?;
        xerces_resources(core, &resources)?;
        let jars_path = std::env::join_paths(&jars).map_err(|e| e.to_string())?;
        let compiled = Command::new("javac")
            .arg("-nowarn")
            .arg("-d")
            .arg(&classes)
            .arg("-cp")
            .arg(jars_path)
            .arg(ORACLE_SOURCE)
            .output()
            .map_err(|e| e.to_string())?;
        if !compiled.status.success() {
            return Err(String::from_utf8_lossy(&compiled.stderr).into_owned());
        }
        let mut entries = vec![classes, resources];
        entries.extend(jars);
        let classpath = std::env::join_paths(entries)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        Ok(Self {
            _dir: dir,
            classpath,
        })
    }

    /// Runs `jobs` over the N-Triples file `data` in one JVM with heap `xmx` (e.g. `8g`), one
    /// after the other, each timed as `sampling` says, and returns each run's result by key,
    /// and Jena's load line.
    pub fn run(
        &self,
        data: &Path,
        jobs: &[JenaJob],
        timeout: Duration,
        sampling: Sampling,
        xmx: &str,
        work: &Path,
    ) -> Result<(BTreeMap<String, JenaResult>, String), String> {
        let spec = json!({
            "data": data,
            "timeout_ms": timeout.as_millis() as u64,
            "repeat_under_ms": sampling.under.as_millis() as u64,
            "samples": sampling.samples,
            "jobs": jobs.iter().map(|job| json!({
                "key": job.key,
                "query": job.query,
                "placeholders": job.placeholders,
                "bindings": job.bindings,
            })).collect::<Vec<_>>(),
        });
        let spec_file = work.join("jena-jobs.json");
        let out_file = work.join("jena.jsonl");
        std::fs::write(&spec_file, spec.to_string()).map_err(|e| e.to_string())?;
        let finished = Command::new("java")
            .arg(format!("-Xmx{xmx}"))
            .arg("-cp")
            .arg(&self.classpath)
            .arg("JenaOracle")
            .arg(&spec_file)
            .arg(&out_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("java: {e}"))?;
        let stderr = String::from_utf8_lossy(&finished.stderr).into_owned();
        if !finished.status.success() {
            return Err(format!("the Jena oracle failed:\n{stderr}"));
        }
        let loaded = stderr
            .lines()
            .find(|l| l.starts_with("jena:"))
            .unwrap_or("")
            .to_owned();
        let text = std::fs::read_to_string(&out_file).map_err(|e| e.to_string())?;
        let mut results = BTreeMap::new();
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
            let key = value["key"].as_str().unwrap_or("").to_owned();
            let time = Duration::from_micros(value["micros"].as_u64().unwrap_or(0));
            let rows = match value["error"].as_str() {
                Some(error) => Err(error.to_owned()),
                None => Ok(value["rows"].as_array().map_or(0, Vec::len)),
            };
            results.insert(key, JenaResult { time, rows });
        }
        Ok((results, loaded))
    }
}
