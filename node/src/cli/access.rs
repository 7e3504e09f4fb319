//! How a command reaches the store: directly, or through the admin listener of the node that
//! holds it (RocksDB admits one writing process, and the operator's weekly load must work while
//! the node serves).

use crate::config::Config;
use crate::consumer::admin::AdminClient;
use crate::store::{NodeStore, StoreError};

/// The store, or the node that holds it.
pub(super) enum StoreAccess {
    /// This process opened the store.
    Local(NodeStore),
    /// A running node holds it; talk to its admin listener.
    Node(AdminClient),
}

/// Opens the store for this command, or finds the node that holds it. With `must_exist`, a
/// missing store is an error instead of being created.
pub(super) fn open_store(config: &Config, must_exist: bool) -> anyhow::Result<StoreAccess> {
    let path = config.store_dir();
    if must_exist && !path.join("CURRENT").is_file() {
        return Err(StoreError::Missing(path).into());
    }
    match NodeStore::open(&path) {
        Ok(store) => Ok(StoreAccess::Local(
            store.with_guard(crate::store::EvaluationGuard::from(&config.store)),
        )),
        Err(locked @ StoreError::Locked { .. }) => {
            match AdminClient::for_data_dir(&config.data_dir) {
                Some(client) => Ok(StoreAccess::Node(client)),
                None => Err(locked.into()),
            }
        }
        Err(other) => Err(other.into()),
    }
}
