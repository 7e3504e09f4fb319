//! The KIK-V datastation: a provider's quality data as an RDF graph, answered only through
//! validated questions (SPARQL queries signed as verifiable credentials) over mutual TLS.
//!
//! This crate is a library first; the `kikv` binary is a thin command line over it
//! ([`cli`]) and the HTTPS listener is a thin layer of handlers ([`http`]).
//!
//! Modules follow the nouns of the product specification:
//! - [`config`]: the node's TOML configuration;
//! - [`store`]: the persistent RDF store, dataset loading and local queries;
//! - [`profile`]: exchange profiles, their queries and parameter declarations;
//! - [`credential`]: DIDs, keys, validated-query credentials, presentations, status lists;
//! - [`http`]: the mutual-TLS listener and its handlers.

pub mod cli;
pub mod config;
pub mod credential;
