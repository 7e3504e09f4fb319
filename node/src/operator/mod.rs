//! Operators: the provider's people who may use the admin listener from another machine, each
//! with a token made by `kikv operator add`. The node keeps only a SHA-256 of each token (in
//! `operators.json`, readable by the node's account only), so the file discloses no secret, and
//! reads the file on every request, so a removed operator is refused at once without a restart.

pub mod ticket;

pub use ticket::{AdminTicket, TicketError, TOKEN_FILE};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The file, in the data directory, unless `admin.operators_file` says otherwise.
pub const OPERATORS_FILE: &str = "operators.json";
/// Every operator token starts with this, so it is recognisable in a secret scanner or a
/// misplaced paste.
pub const TOKEN_PREFIX: &str = "kikvop_";
/// Longest operator name; names are logged with every decision.
const MAX_NAME_CHARS: usize = 100;

/// Why the operators file could not be used or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OperatorError {
    /// The file could not be read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not an operators file.
    #[error("{file} is not an operators file: {reason}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The name is empty, too long, or has control characters.
    #[error("operator name {0:?} is not usable: give 1 to 100 printable characters")]
    Name(String),
    /// An operator of that name already has a token.
    #[error("operator {0:?} already has a token; remove it first to make a new one")]
    Exists(String),
    /// No operator of that name.
    #[error("no operator {0:?}")]
    Unknown(String),
}

/// One operator as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    /// The name logged with the operator's decisions.
    pub name: String,
    /// Lower-case hex SHA-256 of the token.
    pub token_sha256: String,
    /// When the token was made (RFC 3339).
    pub created: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorsFile {
    operators: Vec<OperatorEntry>,
}

/// The operators file.
#[derive(Debug, Clone)]
pub struct Operators {
    file: PathBuf,
}

impl Operators {
    /// The operators kept in `file` (which need not exist yet).
    pub fn at(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
        }
    }

    /// Every operator, in the order they were added; none when the file does not exist.
    pub fn list(&self) -> Result<Vec<OperatorEntry>, OperatorError> {
        Ok(self.read()?.operators)
    }

    /// Makes a token for a new operator `name` and returns it; only its hash is kept, so this
    /// is the one time it is seen.
    pub fn add(&self, name: &str) -> Result<String, OperatorError> {
        let name = checked_name(name)?;
        let mut file = self.read()?;
        if file.operators.iter().any(|o| o.name == name) {
            return Err(OperatorError::Exists(name));
        }
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        file.operators.push(OperatorEntry {
            name,
            token_sha256: digest(&token),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        self.write(&file)?;
        Ok(token)
    }

    /// Removes operator `name`; its token stops working with the next request.
    pub fn remove(&self, name: &str) -> Result<(), OperatorError> {
        let mut file = self.read()?;
        let before = file.operators.len();
        file.operators.retain(|o| o.name != name);
        if file.operators.len() == before {
            return Err(OperatorError::Unknown(name.to_owned()));
        }
        self.write(&file)
    }

    /// The name of the operator whose token is `token`, if any.
    pub fn authenticate(&self, token: &str) -> Result<Option<String>, OperatorError> {
        let presented = digest(token);
        Ok(self
            .read()?
            .operators
            .into_iter()
            .find(|o| constant_time_eq(o.token_sha256.as_bytes(), presented.as_bytes()))
            .map(|o| o.name))
    }

    fn read(&self) -> Result<OperatorsFile, OperatorError> {
        let bytes = match std::fs::read(&self.file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(OperatorsFile::default())
            }
            Err(source) => return Err(self.io(source)),
        };
        serde_json::from_slice(&bytes).map_err(|e| OperatorError::Invalid {
            file: self.file.clone(),
            reason: e.to_string(),
        })
    }

    fn write(&self, file: &OperatorsFile) -> Result<(), OperatorError> {
        let bytes =
            serde_json::to_vec_pretty(file).map_err(|e| self.io(std::io::Error::other(e)))?;
        if let Some(parent) = self.file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| self.io(e))?;
        }
        crate::durable::replace(&self.file, &bytes, true).map_err(|e| self.io(e))
    }

    fn io(&self, source: std::io::Error) -> OperatorError {
        OperatorError::Io {
            file: self.file.clone(),
            source,
        }
    }
}

fn checked_name(name: &str) -> Result<String, OperatorError> {
    let trimmed = name.trim();
    let usable = !trimmed.is_empty()
        && trimmed.chars().count() <= MAX_NAME_CHARS
        && !trimmed.chars().any(char::is_control);
    if usable {
        Ok(trimmed.to_owned())
    } else {
        Err(OperatorError::Name(name.to_owned()))
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares without stopping at the first difference, so timing tells nothing about a secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operators() -> (tempfile::TempDir, Operators) {
        let dir = tempfile::tempdir().unwrap();
        let operators = Operators::at(&dir.path().join(OPERATORS_FILE));
        (dir, operators)
    }

    #[test]
    fn a_token_names_its_operator_until_removed() {
        let (_dir, operators) = operators();
        let anna = operators.add(" Anna de Vries ").unwrap();
        let bram = operators.add("Bram").unwrap();
        assert!(anna.starts_with(TOKEN_PREFIX) && anna.len() == TOKEN_PREFIX.len() + 64);
        assert_ne!(anna, bram);
        assert_eq!(
            operators.authenticate(&anna).unwrap().as_deref(),
            Some("Anna de Vries")
        );
        assert_eq!(
            operators.authenticate(&bram).unwrap().as_deref(),
            Some("Bram")
        );
        assert_eq!(operators.authenticate("kikvop_00").unwrap(), None);
        assert_eq!(operators.authenticate("").unwrap(), None);
        operators.remove("Anna de Vries").unwrap();
        assert_eq!(operators.authenticate(&anna).unwrap(), None);
        assert_eq!(
            operators.authenticate(&bram).unwrap().as_deref(),
            Some("Bram")
        );
    }

    #[test]
    fn the_file_keeps_no_token() {
        let (dir, operators) = operators();
        let token = operators.add("Anna").unwrap();
        let text = std::fs::read_to_string(dir.path().join(OPERATORS_FILE)).unwrap();
        assert!(!text.contains(&token[TOKEN_PREFIX.len()..]), "{text}");
        assert!(text.contains(&digest(&token)), "{text}");
    }

    #[test]
    fn bad_names_and_duplicates_are_refused_and_change_nothing() {
        let (_dir, operators) = operators();
        operators.add("Anna").unwrap();
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            let error = operators.add(bad).unwrap_err();
            assert!(matches!(error, OperatorError::Name(_)), "{error}");
        }
        assert_eq!(
            operators.add("Anna").unwrap_err().to_string(),
            "operator \"Anna\" already has a token; remove it first to make a new one"
        );
        assert_eq!(
            operators.remove("Bram").unwrap_err().to_string(),
            "no operator \"Bram\""
        );
        let names: Vec<_> = operators
            .list()
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["Anna"]);
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_list() {
        let (dir, operators) = operators();
        std::fs::write(dir.path().join(OPERATORS_FILE), b"{\"operators\": 3}").unwrap();
        let error = operators.authenticate("kikvop_00").unwrap_err();
        assert!(
            error.to_string().contains("is not an operators file"),
            "{error}"
        );
    }
}
