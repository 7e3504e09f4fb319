//! `kikv generate`: a synthetic provider (and, on request, the reference data it needs).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use oxigraph::io::RdfFormat;

use crate::config::Config;
use crate::generate::{write_provider, GenerateParams};
use crate::reference::{write_reference, ReferenceOptions, TripleWriter};

/// Arguments of `kikv generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of locations (buildings); vestigingen hold one to three of them
    #[arg(long, default_value_t = GenerateParams::default().locations)]
    pub locations: u32,
    /// Number of employees, volunteers, trainees and hired staff
    #[arg(long, default_value_t = GenerateParams::default().employees)]
    pub employees: u32,
    /// Number of clients
    #[arg(long, default_value_t = GenerateParams::default().clients)]
    pub clients: u32,
    /// Years of history, ending with --last-year
    #[arg(long, default_value_t = GenerateParams::default().years)]
    pub years: u32,
    /// Last year of history (fixed, so the output never depends on the clock)
    #[arg(long, default_value_t = GenerateParams::default().last_year)]
    pub last_year: i32,
    /// Seed: the same arguments always give the same file
    #[arg(long, default_value_t = GenerateParams::default().seed)]
    pub seed: u64,
    /// Output file; `.nt` writes N-Triples, anything else Turtle
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write the reference data (ontology fragment, units, care profiles, zorgkantoor
    /// regions, chart of accounts, and a day calendar covering the history plus one year each side)
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
}

fn format_for(path: &Path) -> RdfFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("nt") => RdfFormat::NTriples,
        _ => RdfFormat::Turtle,
    }
}

fn create(path: &Path) -> anyhow::Result<TripleWriter<BufWriter<File>>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(TripleWriter::new(BufWriter::new(file), format_for(path)))
}

/// Runs `kikv generate`.
pub fn run(_config: &Config, args: GenerateArgs) -> anyhow::Result<()> {
    let params = GenerateParams {
        locations: args.locations,
        employees: args.employees,
        clients: args.clients,
        years: args.years,
        last_year: args.last_year,
        seed: args.seed,
    };
    params.validate()?;
    let mut writer = create(&args.out)?;
    let summary = write_provider(&params, &mut writer)?;
    writer
        .finish()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "wrote {} triples ({} records) to {}",
        summary.triples,
        summary.records,
        args.out.display()
    );
    if let Some(path) = args.reference {
        let options = ReferenceOptions::for_years(params.first_year() - 1, params.last_year + 1)
            .context("the calendar range is outside the supported dates")?;
        let mut writer = create(&path)?;
        write_reference(&options, &mut writer)?;
        let count = writer.count();
        writer
            .finish()
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {count} reference triples to {}", path.display());
    }
    Ok(())
}
