//! `kikv profiles list|check|import`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use crate::config::Config;
use crate::profile::{
    import_folder, write_manifest, ImportRequest, ParameterSource, ParameterType, Registry, Release,
};

/// Arguments of `kikv profiles`.
#[derive(Debug, clap::Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    command: ProfilesCommand,
}

#[derive(Debug, Subcommand)]
enum ProfilesCommand {
    /// List the registered profiles with their queries and parameters
    List,
    /// Check every profile: each query parses, is a read-only SELECT or ASK without SERVICE or
    /// FROM, and uses every parameter it declares
    Check,
    /// Register a published profile folder (its .rq queries and .ttl parameter shapes) as it is:
    /// writes a profile file that refers to the folder's files, never copying or editing them
    #[command(disable_version_flag = true)]
    Import(Box<ImportArgs>),
}

/// Arguments of `kikv profiles import`.
#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The published folder: one `<id>.rq` per query, `<id>.ttl` its SHACL parameter shape
    dir: PathBuf,
    /// Profile IRI
    #[arg(long)]
    iri: String,
    /// Profile version
    #[arg(long)]
    version: String,
    /// Title [default: the folder's name]
    #[arg(long)]
    title: Option<String>,
    /// Who asks (for example "Zorgkantoren")
    #[arg(long, default_value = "")]
    consumer: String,
    /// Purpose of the exchange
    #[arg(long, default_value = "")]
    purpose: String,
    /// Legal basis
    #[arg(long, default_value = "")]
    legal_basis: String,
    /// Ontology IRI the queries are written against; repeatable [default: store.default_ontology]
    #[arg(long = "ontology", value_name = "IRI")]
    ontologies: Vec<String>,
    /// How answers leave the node
    #[arg(long, value_enum, default_value = "auto")]
    release: ReleaseMode,
    /// Time the operator has to decide on a manual release, in hours [default: 72]
    #[arg(long, conflicts_with = "deadline_seconds")]
    deadline_hours: Option<u64>,
    /// The same in seconds (short-lived test profiles)
    #[arg(long)]
    deadline_seconds: Option<u64>,
    /// The type of a parameter that has no shape and no conventional name (NAME=TYPE, TYPE one
    /// of integer, decimal, string, date, iri, boolean, gyear); repeatable
    #[arg(long = "parameter-type", value_name = "NAME=TYPE")]
    parameter_types: Vec<String>,
    /// The profile file to write; `-` prints it (paths relative to the working directory)
    /// [default: <profiles.dir>/<folder name>.toml]
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReleaseMode {
    Auto,
    Manual,
}

/// Lists or checks the profiles in `profiles.dir`, or imports a published folder.
pub fn run(config: &Config, args: ProfilesArgs) -> anyhow::Result<()> {
    if let ProfilesCommand::Import(import) = args.command {
        return run_import(config, *import);
    }
    let (registry, problems) =
        Registry::load_dir(&config.profiles.dir).map_err(|problem| anyhow::anyhow!("{problem}"))?;
    match args.command {
        ProfilesCommand::List => {
            print!("{}", listing(&registry));
            for problem in &problems {
                eprintln!("kikv: warning: {problem} (not registered)");
            }
            Ok(())
        }
        ProfilesCommand::Check => {
            for problem in &problems {
                println!("FAIL {problem}");
            }
            let queries: usize = registry.profiles().iter().map(|p| p.queries.len()).sum();
            if problems.is_empty() {
                println!(
                    "ok: {} profile(s), {queries} quer(ies) in {}",
                    registry.profiles().len(),
                    config.profiles.dir.display()
                );
                Ok(())
            } else {
                anyhow::bail!("{} profile file(s) have problems", problems.len())
            }
        }
        ProfilesCommand::Import(_) => unreachable!("handled above"),
    }
}

fn run_import(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let release = match (args.release, args.deadline_hours, args.deadline_seconds) {
        (ReleaseMode::Auto, None, None) => Release::Auto,
        (ReleaseMode::Auto, _, _) => anyhow::bail!("only --release manual has a deadline"),
        (ReleaseMode::Manual, hours, seconds) => {
            let secs = seconds.unwrap_or(hours.unwrap_or(72).saturating_mul(3600));
            anyhow::ensure!(secs > 0, "a manual release needs a deadline above 0");
            Release::Manual {
                deadline: Duration::from_secs(secs),
            }
        }
    };
    let mut parameter_types = BTreeMap::new();
    for given in &args.parameter_types {
        let (name, kind) = given
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--parameter-type {given}: give NAME=TYPE"))?;
        let kind: ParameterType = kind
            .parse()
            .map_err(|e| anyhow::anyhow!("--parameter-type {given}: {e}"))?;
        parameter_types.insert(name.to_owned(), kind);
    }
    let to_stdout = args.out.as_deref() == Some(std::path::Path::new("-"));
    let out = match &args.out {
        Some(out) => out.clone(),
        None => {
            let name = args.dir.file_name().unwrap_or(args.dir.as_os_str());
            config
                .profiles
                .dir
                .join(format!("{}.toml", name.to_string_lossy()))
        }
    };
    let manifest_dir = match to_stdout {
        true => PathBuf::from("."),
        false => match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let request = ImportRequest {
        dir: args.dir,
        iri: args.iri,
        version: args.version,
        title: args.title,
        consumer: args.consumer,
        purpose: args.purpose,
        legal_basis: args.legal_basis,
        ontologies: match args.ontologies.is_empty() {
            true => vec![config.store.default_ontology.clone()],
            false => args.ontologies,
        },
        release,
        parameter_types,
        manifest_dir,
    };
    let imported = import_folder(&request)?;
    for warning in &imported.warnings {
        eprintln!("kikv: warning: {warning}");
    }
    let from_shape = imported
        .queries
        .iter()
        .filter(|q| matches!(q.parameters, ParameterSource::Shape(_)))
        .count();
    let summary = format!(
        "{} {}: {} queries ({from_shape} with parameters from their shape, {} from their header)",
        imported.profile.iri,
        imported.profile.version,
        imported.queries.len(),
        imported.queries.len() - from_shape
    );
    if to_stdout {
        print!("{}", imported.manifest);
        eprintln!("kikv: {summary}");
    } else {
        write_manifest(&imported, &out)?;
        println!(
            "registered {summary} in {} (a running node serves it after a restart)",
            out.display()
        );
    }
    Ok(())
}

/// A deadline as the profile gave it: whole hours, else seconds.
fn hours(deadline: std::time::Duration) -> String {
    match deadline.as_secs() {
        secs if secs % 3600 == 0 => format!("{} h", secs / 3600),
        secs => format!("{secs} s"),
    }
}

fn listing(registry: &Registry) -> String {
    let mut out = String::new();
    for profile in registry.profiles() {
        let release = match profile.release {
            Release::Auto => "auto".to_owned(),
            Release::Manual { deadline } => format!("manual, deadline {}", hours(deadline)),
        };
        let state = if profile.active { "" } else { " [inactive]" };
        out.push_str(&format!(
            "{} {} — {} (consumer: {}; release: {release}){state}\n",
            profile.iri, profile.version, profile.title, profile.consumer
        ));
        for query in &profile.queries {
            let parameters: Vec<String> = query
                .parameters
                .iter()
                .map(|p| {
                    format!(
                        "{}: {}{}",
                        p.name,
                        p.kind,
                        if p.required { "" } else { "?" }
                    )
                })
                .collect();
            out.push_str(&format!(
                "  {:<8} {} ({})\n",
                query.id,
                query.title,
                parameters.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hours;
    use std::time::Duration;

    #[test]
    fn a_deadline_shows_in_the_unit_it_was_given() {
        assert_eq!(hours(Duration::from_secs(2 * 3600)), "2 h");
        assert_eq!(hours(Duration::from_secs(90)), "90 s");
        assert_eq!(hours(Duration::from_secs(3601)), "3601 s");
    }
}
