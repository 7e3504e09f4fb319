//! `kikv console`: prints the operator console's address for the running node, with the admin
//! token in the URL fragment (which the browser keeps to itself), and can open it.

use anyhow::Context as _;

use crate::config::Config;
use crate::http::console::console_url;

/// Arguments of `kikv console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    /// Also open the address in the desktop's browser (xdg-open)
    #[arg(long)]
    open: bool,
}

/// Prints (and with `--open` opens) the console address of the node serving `data_dir`.
pub fn run(config: &Config, args: ConsoleArgs) -> anyhow::Result<()> {
    let url = console_url(&config.data_dir).map_err(anyhow::Error::msg)?;
    println!("{url}");
    if args.open {
        let status = std::process::Command::new("xdg-open")
            .arg(&url)
            .status()
            .context("cannot run xdg-open; open the address above in a browser")?;
        if !status.success() {
            anyhow::bail!("xdg-open failed ({status}); open the address above in a browser");
        }
    }
    Ok(())
}
