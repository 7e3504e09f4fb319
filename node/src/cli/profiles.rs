//! `kikv profiles list|check`.

use clap::Subcommand;

use crate::config::Config;
use crate::profile::{Registry, Release};

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
}

/// Lists or checks the profiles in `profiles.dir`.
pub fn run(config: &Config, args: ProfilesArgs) -> anyhow::Result<()> {
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
    }
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
