//! `kikv reload`: the running node reads its profiles, trust and TLS certificate again, as on
//! SIGHUP, through its admin listener.

use anyhow::Context;

use super::release::Remote;
use crate::config::Config;
use crate::http::admin::ReloadBody;
use crate::reload::ReloadReport;

/// Arguments of `kikv reload`.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// Who asks, as logged, when signed in with the node's own ticket [default: the OS user
    /// from $USER]; an operator token or certificate names its own operator
    #[arg(long, env = "USER", value_name = "NAME")]
    operator: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

/// Asks the node to reload and prints what is in force now, or the one line saying why the
/// node refused and goes on as it was.
pub fn run(config: &Config, args: ReloadArgs) -> anyhow::Result<()> {
    if args.remote.is_local() && crate::operator::AdminTicket::read(&config.data_dir).is_err() {
        anyhow::bail!(
            "no running node serves {}: start it with `kikv serve`",
            config.data_dir.display()
        );
    }
    let node = args.remote.client(config)?;
    let body = ReloadBody {
        operator: args.operator,
    };
    let reply = node
        .post("/admin/reload", &body)
        .map_err(anyhow::Error::msg)?;
    let report: ReloadReport =
        serde_json::from_slice(&reply).context("unexpected answer from the node")?;
    println!("{report}");
    Ok(())
}
