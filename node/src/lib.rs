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
//! - [`http`]: the mutual-TLS listener and its handlers;
//! - [`generate`]: the synthetic provider generator;
//! - [`reference`]: reference data (calendar, regions, units, class hierarchy) and subclass materialisation;
//! - [`indicator`]: indicators computed straight from generated records, to check query answers.

pub mod cli;
pub mod config;
pub mod generate;
pub mod indicator;
pub mod reference;
