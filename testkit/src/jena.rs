//! Apache Jena 4.5 ARQ (Debian's `libapache-jena-java`) as the reference engine: the oracle
//! `testkit/oracle/JenaOracle.java` found and compiled against Jena's jars, for the
//! differential test (`node/tests/oracle/jena_differential.rs`, which reads full answers) and
//! the official benchmark (`node/benches/official.rs`, [`Jena::serve`]: one JVM with a bounded
//! heap answering one run at a time, timed and counted, so that the benchmark can time it in
//! turns with the node).
//!
//! The classpath: Debian's unversioned jars of the package and of the packages it depends on,
//! directly in `/usr/share/java` (the versioned names are links to the same files), without
//! slf4j's bindings and bridges (several bindings on one classpath make slf4j complain; with
//! the API alone it logs nothing).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
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

/// Jena's outcome of one run.
#[derive(Debug, Clone)]
pub struct JenaResult {
    /// Time of parse, substitution and evaluation to the last row, as the JVM measured it.
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

    /// Starts one JVM with heap `xmx` (e.g. `8g`) that reads the N-Triples file `data` into an
    /// in-memory model and then answers one run at a time ([`JenaServer::answer`]), each
    /// stopped after `timeout`; returns it once the data are read, with Jena's load line.
    pub fn serve(
        &self,
        data: &Path,
        timeout: Duration,
        xmx: &str,
    ) -> Result<(JenaServer, String), String> {
        let mut child = Command::new("java")
            .arg(format!("-Xmx{xmx}"))
            .arg("-cp")
            .arg(&self.classpath)
            .arg("JenaOracle")
            .arg("--serve")
            .arg(data)
            .arg(timeout.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("java: {e}"))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("java: no pipes".into());
        };
        let mut server = JenaServer {
            child,
            input,
            output: BufReader::new(output),
        };
        let ready = server.line()?;
        let loaded = ready["loaded"].as_str().unwrap_or("").to_owned();
        Ok((server, loaded))
    }
}

/// A JVM answering runs over the data it read (see [`Jena::serve`]); stopped when dropped.
pub struct JenaServer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl JenaServer {
    /// Jena's answer to `job`: its time and row count, or its error. `Err` only when the JVM
    /// itself failed.
    pub fn answer(&mut self, job: &JenaJob) -> Result<JenaResult, String> {
        let line = json!({
            "key": job.key,
            "query": job.query,
            "placeholders": job.placeholders,
            "bindings": job.bindings,
        });
        writeln!(self.input, "{line}")
            .and_then(|()| self.input.flush())
            .map_err(|e| format!("the Jena oracle stopped: {e}"))?;
        let value = self.line()?;
        let time = Duration::from_micros(value["micros"].as_u64().unwrap_or(0));
        let rows = match value["error"].as_str() {
            Some(error) => Err(error.to_owned()),
            None => Ok(value["count"].as_u64().unwrap_or(0) as usize),
        };
        Ok(JenaResult { time, rows })
    }

    /// The JVM's next line, as JSON.
    fn line(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        match self.output.read_line(&mut line) {
            Ok(0) => Err("the Jena oracle stopped (out of memory? see KIKV_BENCH_XMX)".into()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("the Jena oracle: {e}")),
            Err(e) => Err(format!("the Jena oracle: {e}")),
        }
    }
}

impl Drop for JenaServer {
    fn drop(&mut self) {
        // The JVM may still be answering a run that timed out here: stop it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
