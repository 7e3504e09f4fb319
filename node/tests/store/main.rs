//! The store and the query engine in process: loading, the registry, the union of datasets,
//! serving from memory, the join rewrites and engine semantics on a real on-disk store, the
//! generator, and the shipped profiles and queries.

#[allow(dead_code)] // each binary uses a part of the shared fixtures
#[path = "../support/mod.rs"]
mod support;

mod engine_joins;
mod engine_semantics;
mod generate;
mod profile;
mod profiles_files;
mod store;
mod store_memory;
mod store_union;
