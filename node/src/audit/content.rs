//! Large request and response content, stored beside the log in files named by their SHA-256.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::entry::{Content, ContentRef};

/// A directory of content files, each named by the lower-case hex SHA-256 of its bytes.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
    inline_limit: usize,
}

/// Why an entry's content does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The inline bytes are not Base64.
    #[error("inline content is not Base64")]
    NotBase64,
    /// The content file named by the digest is missing or unreadable.
    #[error("file {0} is missing or unreadable")]
    Missing(PathBuf),
    /// The bytes do not have the digest or length the entry records.
    #[error("{sha256} does not match its bytes")]
    Mismatch {
        /// The digest the entry records.
        sha256: String,
    },
}

impl ContentStore {
    /// A store in `dir`; content up to `inline_limit` bytes stays in the entry.
    pub fn new(dir: impl Into<PathBuf>, inline_limit: usize) -> Self {
        Self {
            dir: dir.into(),
            inline_limit,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the reference for `content`, first writing large content durably to its file, so
    /// an entry never refers to bytes that a crash could lose.
    pub fn put(&self, content: &Content) -> io::Result<ContentRef> {
        let sha256 = hex::encode(Sha256::digest(&content.bytes));
        let inline = if content.bytes.len() <= self.inline_limit {
            Some(BASE64.encode(&content.bytes))
        } else {
            self.write_file(&sha256, &content.bytes)?;
            None
        };
        Ok(ContentRef {
            media_type: content.media_type.clone(),
            sha256,
            length: content.bytes.len() as u64,
            inline,
        })
    }

    fn write_file(&self, sha256: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.dir.join(sha256);
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(()); // Same digest, same bytes: already stored.
        }
        fs::create_dir_all(&self.dir)?;
        let temporary = self.dir.join(format!("{sha256}.partial"));
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, &path)?;
        sync_dir(&self.dir)
    }

    /// The bytes an entry refers to, checked against its digest and length.
    pub fn get(&self, reference: &ContentRef) -> Result<Vec<u8>, ContentError> {
        let bytes = match &reference.inline {
            Some(inline) => BASE64.decode(inline).map_err(|_| ContentError::NotBase64)?,
            None => {
                let path = self.dir.join(&reference.sha256);
                fs::read(&path).map_err(|_| ContentError::Missing(path))?
            }
        };
        if hex::encode(Sha256::digest(&bytes)) != reference.sha256
            || bytes.len() as u64 != reference.length
        {
            return Err(ContentError::Mismatch {
                sha256: reference.sha256.clone(),
            });
        }
        Ok(bytes)
    }
}

/// Makes a directory's entries (new or renamed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
