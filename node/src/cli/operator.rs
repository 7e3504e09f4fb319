//! `kikv operator add|list|remove`: the people who may use the admin listener from another
//! machine, each with a token. The running node reads the file on every request, so a change
//! takes effect at once.

use crate::config::Config;
use crate::operator::Operators;

/// Arguments of `kikv operator`.
#[derive(Debug, clap::Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum OperatorCommand {
    /// Make a token for an operator; it is printed once, only its hash is kept
    Add {
        /// The operator's name, logged with each of their decisions
        name: String,
    },
    /// The operators and when their tokens were made
    List,
    /// Remove an operator; their token stops working with the next request
    Remove {
        /// The operator's name
        name: String,
    },
}

/// Changes or lists the operators file of `config`.
pub fn run(config: &Config, args: OperatorArgs) -> anyhow::Result<()> {
    let file = config.operators_file();
    let operators = Operators::at(&file);
    match args.command {
        OperatorCommand::Add { name } => {
            let token = operators.add(&name)?;
            println!("{token}");
            eprintln!(
                "kikv: token for {:?} written to {} (as a hash); give it to the operator, who \
                 sets it as {} for `kikv release --admin-url` or pastes it in the console",
                name.trim(),
                file.display(),
                super::release::OPERATOR_TOKEN_VARIABLE
            );
        }
        OperatorCommand::List => {
            for operator in operators.list()? {
                println!("{}\t{}", operator.created, operator.name);
            }
        }
        OperatorCommand::Remove { name } => {
            operators.remove(&name)?;
            eprintln!("kikv: removed {name:?}");
        }
    }
    Ok(())
}
