//! The KIK-V datastation: a provider's quality data as an RDF graph, answered only through
//! validated questions (SPARQL queries signed as verifiable credentials) over mutual TLS.
//!
//! This crate is a library first; the `kikv` binary is a thin command line over it
//! ([`cli`]) and the HTTPS listener is a thin layer of handlers ([`http`]).
//!
//! Modules follow the nouns of the product specification:
//! - [`config`]: the node's TOML configuration;
//! - [`audit`]: the tamper-evident, write-ahead exchange log;
//! - [`backup`]: complete backup archives and restoring a node from one;
//! - [`store`]: the persistent RDF store, dataset loading and local queries;
//! - [`profile`]: exchange profiles, their queries and parameter declarations;
//! - [`catalog`]: the DCAT catalogue of the datasets the node offers;
//! - [`credential`]: DIDs, keys, validated-query credentials, presentations, status lists;
//! - [`exchange`]: SPEC §4 steps 2 to 11 as one layer: token, envelope, presentation,
//!   allow-list, parameters, the release gate, execution, signed answer and delivery;
//! - [`release`]: the manual release queue (SPEC §4 step 8);
//! - [`node`]: the composition root: a whole node opened from its configuration and served;
//! - [`setup`]: a production node's first files (`kikv init`) and `kikv config check`;
//! - [`tls`]: every rustls configuration of the node (listeners, delivery, resolvers) and the
//!   mutual-TLS accept loop;
//! - [`http`]: the HTTP handlers of the consumer and admin listeners;
//! - [`consumer`]: the other side of the exchange: `kikv ask`'s client and reply receiver, and
//!   the admin client of `kikv release`/`kikv access`;
//! - [`reload`]: profiles, trust and TLS certificate reloaded in a running node, into
//!   [`current`] cells that requests read;
//! - [`generate`]: the synthetic provider generator;
//! - [`operator`]: the operators of the admin listener and their tokens;
//! - [`durable`]: atomic, fsynced writes of small state files;
//! - [`reference`](mod@reference): reference data (calendar, regions, units, class hierarchy) and subclass materialisation.

pub mod audit;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod credential;
pub mod current;
pub mod durable;
pub mod exchange;
pub mod generate;
pub mod http;
pub mod node;
pub mod operator;
pub mod profile;
pub mod reference;
pub mod release;
pub mod reload;
pub mod setup;
pub mod store;
pub mod tls;
