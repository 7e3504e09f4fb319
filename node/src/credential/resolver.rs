//! Resolving a DID to its document: pinned documents first (the operator's explicit trust, and
//! the only way for `did:nuts` or an offline `did:web`), then `did:key`/`did:jwk` derived from
//! the DID itself, then `did:web` over HTTPS with a short in-memory cache.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::did::{self, DidDocument, DidError, MAX_DID_DOCUMENT_BYTES};
use super::error::CredentialError;
use super::https::HttpsClient;
use super::jwt::{key_of_issuer, DecodedJwt};

/// How long a `did:web` document fetched over HTTPS is reused, in seconds.
pub const DID_WEB_CACHE_SECS: i64 = 300;

/// Resolves DIDs to DID documents.
#[derive(Debug)]
pub struct DidResolver {
    pinned: HashMap<String, Arc<DidDocument>>,
    https: HttpsClient,
    web_cache: Mutex<HashMap<String, (i64, Arc<DidDocument>)>>,
}

impl DidResolver {
    /// A resolver with no pinned documents, fetching `did:web` documents with `https`.
    pub fn new(https: HttpsClient) -> Self {
        Self {
            pinned: HashMap::new(),
            https,
            web_cache: Mutex::new(HashMap::new()),
        }
    }

    /// Pins a document: it is used for its DID instead of any network or derivation.
    pub fn pin(&mut self, document: DidDocument) {
        self.pinned.insert(document.id.clone(), Arc::new(document));
    }

    /// Pins the DID document in a file.
    pub fn pin_file(&mut self, file: &Path) -> Result<(), DidError> {
        let bytes = std::fs::read(file).map_err(|e| DidError::Unreadable {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })?;
        let document = DidDocument::parse(&bytes).map_err(|e| DidError::InFile {
            file: file.to_path_buf(),
            error: Box::new(e),
        })?;
        self.pin(document);
        Ok(())
    }

    /// The DIDs whose documents are pinned.
    pub fn pinned_dids(&self) -> impl Iterator<Item = &str> {
        self.pinned.keys().map(String::as_str)
    }

    /// The document of `did`. `now` (Unix seconds) ages the `did:web` cache.
    pub async fn resolve(&self, did: &str, now: i64) -> Result<Arc<DidDocument>, CredentialError> {
        let unresolvable = |reason: DidError| CredentialError::DidUnresolvable {
            did: did.to_owned(),
            reason: reason.to_string(),
        };
        if let Some(document) = self.pinned.get(did) {
            return Ok(document.clone());
        }
        if let Some(derived) = did::derive_document(did) {
            return derived.map(Arc::new).map_err(unresolvable);
        }
        if !did.starts_with("did:web:") {
            return Err(CredentialError::DidUnresolvable {
                did: did.to_owned(),
                reason: "DID method not resolvable here; pin its DID document in [trust]".into(),
            });
        }
        if let Some(cached) = self.cached(did, now) {
            return Ok(cached);
        }
        let document = Arc::new(self.fetch_did_web(did).await.map_err(unresolvable)?);
        if let Ok(mut cache) = self.web_cache.lock() {
            cache.insert(did.to_owned(), (now, document.clone()));
        }
        Ok(document)
    }

    /// Fetches a `did:web` document over HTTPS, bypassing pins and cache; its `id` must be the
    /// DID. Use it to make the pinned copy for offline operation.
    pub async fn fetch_did_web(&self, did: &str) -> Result<DidDocument, DidError> {
        let url = did::did_web_url(did)?;
        let bytes = self.https.get(&url, MAX_DID_DOCUMENT_BYTES).await?;
        let document = DidDocument::parse(&bytes)?;
        if document.id != did {
            return Err(DidError::WrongId {
                url,
                id: document.id,
            });
        }
        Ok(document)
    }

    /// Verifies a decoded JWT's signature with `iss`'s assertion key named by its `kid`.
    pub async fn verify_jwt(
        &self,
        decoded: &DecodedJwt,
        iss: &str,
        now: i64,
    ) -> Result<(), CredentialError> {
        let kid = key_of_issuer(decoded.kid.as_deref(), iss)?;
        let document = self.resolve(iss, now).await?;
        let jwk = document.assertion_key(&kid)?;
        decoded.verify_signature(&kid, &jwk)
    }

    fn cached(&self, did: &str, now: i64) -> Option<Arc<DidDocument>> {
        let cache = self.web_cache.lock().ok()?;
        let (fetched, document) = cache.get(did)?;
        (now.saturating_sub(*fetched) < DID_WEB_CACHE_SECS).then(|| document.clone())
    }
}
