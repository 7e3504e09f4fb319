//! The admin ticket: where a running node's admin listener is and the token it wants, written
//! by the node into its data directory when it starts serving and removed when it stops, so that
//! `kikv release`, `kikv access`, `kikv reload` and the console on the same machine reach it
//! without configuration.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File in the data directory holding the admin token of the running node.
pub const TOKEN_FILE: &str = "admin.token";

/// Where a running node's admin listener is and the token it wants; kept in
/// `data_dir/admin.token`, readable by the owner only, removed when the node stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminTicket {
    /// The address to reach the admin listener at from the node's machine.
    pub address: std::net::SocketAddr,
    /// The bearer token.
    pub token: String,
    /// When the listener speaks TLS (it is not on loopback): the lower-case hex SHA-256 of the
    /// node's certificate, which a client on the same machine trusts exactly, whatever names
    /// the certificate holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
}

impl AdminTicket {
    /// A fresh random token for a listener bound to `bound`. An unspecified address (`0.0.0.0`,
    /// `::`) is reached through loopback of the same family.
    pub fn new(bound: std::net::SocketAddr, certificate_sha256: Option<String>) -> Self {
        let mut address = bound;
        if bound.ip().is_unspecified() {
            address.set_ip(match bound {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let bytes: [u8; 32] = rand::random();
        Self {
            address,
            token: hex::encode(bytes),
            certificate_sha256,
        }
    }

    /// The ticket of the node serving `data_dir`, if one has written it.
    pub fn read(data_dir: &Path) -> Result<Self, TicketError> {
        let file = data_dir.join(TOKEN_FILE);
        let text = std::fs::read(&file).map_err(|source| TicketError::Unreadable {
            file: file.clone(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| TicketError::NotATicket { file, source })
    }

    /// `http://ADDRESS` on loopback, `https://ADDRESS` otherwise.
    pub fn base_url(&self) -> String {
        let scheme = match self.certificate_sha256 {
            Some(_) => "https",
            None => "http",
        };
        format!("{scheme}://{}", self.address)
    }

    /// Writes the ticket into `data_dir`, readable by the owner only.
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::durable::replace(&data_dir.join(TOKEN_FILE), &json, true)
    }
}

/// Why the admin ticket of a data directory could not be read (no node serves it, or the file
/// is not a ticket).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TicketError {
    /// The file could not be read (usually: absent, as no node is running).
    #[error("cannot read {}: {source}", file.display())]
    Unreadable {
        /// The ticket file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a ticket.
    #[error("{} is not an admin ticket: {source}", file.display())]
    NotATicket {
        /// The ticket file.
        file: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ticket_says_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = AdminTicket::read(dir.path()).unwrap_err();
        assert!(matches!(error, TicketError::Unreadable { .. }), "{error:?}");
        assert!(
            error.to_string().starts_with(&format!(
                "cannot read {}: ",
                dir.path().join(TOKEN_FILE).display()
            )),
            "{error}"
        );
        std::fs::write(dir.path().join(TOKEN_FILE), "{}").unwrap();
        let error = AdminTicket::read(dir.path()).unwrap_err();
        assert!(matches!(error, TicketError::NotATicket { .. }), "{error:?}");
    }
}
