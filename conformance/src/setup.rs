//! `kikv-conformance setup --out DIR`: the suite's own PKI, keys, DID documents and fixtures,
//! which the operator of the node under test installs, and which the runner reads back.
//!
//! Layout of DIR (file names are fixed; [`Setup::open`] reads them back):
//! - `ca.crt.pem`: the CA of the consumers' client certificates (the node trusts it);
//! - `consumer-{a,b}.{crt,key}.pem`, `consumer-{a,b}.jwk.json`, `consumer-{a,b}.did.json`:
//!   the two consumers' TLS identities, DID keys and DID documents (`did:web`, to be pinned);
//! - `issuer.jwk.json`, `issuer.did.json`: the beheerorganisatie that issues validated-query
//!   credentials (pinned and trusted); `rogue-issuer.*`: an issuer that is pinned but trusted
//!   for nothing;
//! - `stranger.{crt,key}.pem`: a client certificate from a CA the node must not trust;
//! - `dataset.ttl`, `profiles/conformance-1.0.0.toml`, `queries/*.rq`: the data and profile;
//! - `node/`: a server certificate for `localhost` and a node key under `did:web:localhost`, for
//!   a node that has no identity of its own (optional);
//! - `kikv-trust.toml`: the configuration sections for a `kikv` node; `NODE-SETUP.md`: what any
//!   node must be configured with.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::jose::{JoseError, Key};
use crate::pki::{Authority, CertifiedKey};

/// The conformance profile's IRI.
pub const PROFILE_IRI: &str = "https://conformance.kik-v.test/profiles/conformance";
/// The conformance profile's version.
pub const PROFILE_VERSION: &str = "1.0.0";
/// The ontology the profile's queries are written against.
pub const ONTOLOGY: &str = "http://purl.org/ozo/onz-g";
/// The named graph the dataset must be loaded into.
pub const DATASET_GRAPH: &str = "https://conformance.kik-v.test/data";
/// The query time limit the node must be configured with, in seconds.
pub const QUERY_TIMEOUT_SECS: u64 = 3;
/// The DID of the test node identity in `node/`.
pub const TEST_NODE_DID: &str = "did:web:localhost";
/// The consumers, by the short name scenarios use.
pub const CONSUMERS: [&str; 2] = ["a", "b"];
/// The IDs of the profile's queries, each in `queries/<id>.rq`.
pub const QUERY_IDS: [&str; 4] = ["jaar", "kwartaal", "naam", "traag"];

const DID_BASE: &str = "did:web:conformance.kik-v.test";
const DATASET: &str = include_str!("../fixtures/dataset.ttl");
const PROFILE: &str = include_str!("../fixtures/profile.toml");
const QUERIES: [(&str, &str); 4] = [
    ("jaar", include_str!("../fixtures/queries/jaar.rq")),
    ("kwartaal", include_str!("../fixtures/queries/kwartaal.rq")),
    ("naam", include_str!("../fixtures/queries/naam.rq")),
    ("traag", include_str!("../fixtures/queries/traag.rq")),
];

/// Why the setup could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A file could not be written or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A key could not be made or read.
    #[error(transparent)]
    Key(#[from] JoseError),
    /// The directory already holds a setup.
    #[error("{0} already holds a conformance setup; choose another directory")]
    Exists(PathBuf),
}

/// A consumer of the suite: its DID key and its TLS client identity.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Its DID key.
    pub key: Key,
    /// Its client certificate and TLS key.
    pub tls: CertifiedKey,
}

/// A setup directory, read back for the runner.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The directory.
    pub dir: PathBuf,
    /// Consumer A and consumer B.
    pub consumers: Vec<(String, Consumer)>,
    /// The trusted beheerorganisatie.
    pub issuer: Key,
    /// An issuer that is pinned but trusted for nothing.
    pub rogue_issuer: Key,
    /// A client certificate from a CA the node does not trust.
    pub stranger: CertifiedKey,
    /// The CA of the consumers' certificates and of the test node certificate (PEM).
    pub ca: String,
}

fn io_error(file: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        file: file.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to a new file readable only by its owner (private keys).
pub fn write_private(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(file)?;
    out.write_all(bytes)?;
    out.sync_all()
}

fn write(file: &Path, text: &str) -> Result<(), SetupError> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(file, text).map_err(io_error(file))
}

fn write_secret(file: &Path, text: &str) -> Result<(), SetupError> {
    write_private(file, text.as_bytes()).map_err(io_error(file))
}

fn read(file: &Path) -> Result<String, SetupError> {
    std::fs::read_to_string(file).map_err(io_error(file))
}

fn write_key(dir: &Path, name: &str, key: &Key) -> Result<(), SetupError> {
    key.write_file(&dir.join(format!("{name}.jwk.json")))?;
    let document = serde_json::to_string_pretty(&key.did_document()).unwrap_or_default();
    write(&dir.join(format!("{name}.did.json")), &document)
}

fn write_tls(dir: &Path, name: &str, tls: &CertifiedKey) -> Result<(), SetupError> {
    write(&dir.join(format!("{name}.crt.pem")), &tls.cert)?;
    write_secret(&dir.join(format!("{name}.key.pem")), &tls.key)
}

fn read_tls(dir: &Path, name: &str) -> Result<CertifiedKey, SetupError> {
    Ok(CertifiedKey {
        cert: read(&dir.join(format!("{name}.crt.pem")))?,
        key: read(&dir.join(format!("{name}.key.pem")))?,
    })
}

/// Writes a new setup into `out` and returns it.
pub fn write_setup(out: &Path) -> Result<Setup, SetupError> {
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    if out.join("kikv-trust.toml").exists() {
        return Err(SetupError::Exists(out.to_path_buf()));
    }
    let authority = Authority::new("KIK-V conformance suite CA")?;
    write(&out.join("ca.crt.pem"), &authority.cert)?;
    for name in CONSUMERS {
        let did = format!("{DID_BASE}:consumer-{name}");
        let key = Key::generate(&format!("{did}#key-1"))?;
        write_key(out, &format!("consumer-{name}"), &key)?;
        let tls = authority.client(&format!("Conformance consumer {name}"), &did)?;
        write_tls(out, &format!("consumer-{name}"), &tls)?;
    }
    for (name, path) in [
        ("issuer", "beheerorganisatie"),
        ("rogue-issuer", "onbekende-uitgever"),
    ] {
        let key = Key::generate(&format!("{DID_BASE}:{path}#key-1"))?;
        write_key(out, name, &key)?;
    }
    let stranger_ca = Authority::new("A CA nobody trusts")?;
    let stranger = stranger_ca.client("Stranger", &format!("{DID_BASE}:consumer-a"))?;
    write_tls(out, "stranger", &stranger)?;
    let node = out.join("node");
    write_tls(&node, "node", &authority.localhost_server()?)?;
    Key::generate(&format!("{TEST_NODE_DID}#key-1"))?.write_file(&node.join("node.jwk.json"))?;
    write(&out.join("dataset.ttl"), DATASET)?;
    write(
        &out.join(format!("profiles/conformance-{PROFILE_VERSION}.toml")),
        PROFILE,
    )?;
    for (id, text) in QUERIES {
        write(&out.join(format!("queries/{id}.rq")), text)?;
    }
    let issuer = Key::from_file(&out.join("issuer.jwk.json"))?;
    write(&out.join("NODE-SETUP.md"), &node_setup(issuer.did()))?;
    write(&out.join("kikv-trust.toml"), &kikv_trust(issuer.did()))?;
    Setup::open(out)
}

impl Setup {
    /// Reads a setup written by [`write_setup`].
    pub fn open(dir: &Path) -> Result<Self, SetupError> {
        let consumers = CONSUMERS
            .iter()
            .map(|name| {
                let file = format!("consumer-{name}");
                Ok((
                    (*name).to_owned(),
                    Consumer {
                        key: Key::from_file(&dir.join(format!("{file}.jwk.json")))?,
                        tls: read_tls(dir, &file)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, SetupError>>()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            consumers,
            issuer: Key::from_file(&dir.join("issuer.jwk.json"))?,
            rogue_issuer: Key::from_file(&dir.join("rogue-issuer.jwk.json"))?,
            stranger: read_tls(dir, "stranger")?,
            ca: read(&dir.join("ca.crt.pem"))?,
        })
    }

    /// The consumer named `name` (`a` or `b`).
    pub fn consumer(&self, name: &str) -> Option<&Consumer> {
        self.consumers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
    }

    /// The SPARQL text of the profile query `id`.
    pub fn query(&self, id: &str) -> Result<String, SetupError> {
        read(&self.dir.join(format!("queries/{id}.rq")))
    }
}

fn pinned_documents() -> String {
    let mut files: Vec<String> = CONSUMERS
        .iter()
        .map(|c| format!("\"consumer-{c}.did.json\""))
        .collect();
    files.push("\"issuer.did.json\"".into());
    files.push("\"rogue-issuer.did.json\"".into());
    files.join(", ")
}

fn kikv_trust(issuer: &str) -> String {
    format!(
        r#"# Configuration sections for a `kikv` node under test, made by `kikv-conformance setup`.
# Paths are relative to this directory. Add data_dir and [listen], then load the dataset:
#   kikv load dataset.ttl --graph {DATASET_GRAPH} --ontology {ONTOLOGY}

[node]
did = "{TEST_NODE_DID}"

[tls]
certificate = "node/node.crt.pem"
private_key = "node/node.key.pem"
client_trust_anchors = ["ca.crt.pem"]

[profiles]
dir = "profiles"

[store]
query_timeout_secs = {QUERY_TIMEOUT_SECS}

[trust]
node_key = "node/node.jwk.json"
did_documents = [{pinned}]

[trust.trusted_issuers]
ValidQueryCredential = ["{issuer}"]
ValidatedQueryCredential = ["{issuer}"]
"#,
        pinned = pinned_documents(),
    )
}

fn node_setup(issuer: &str) -> String {
    format!(
        r#"# Configuring a datastation for the KIK-V conformance suite

Made by `kikv-conformance setup`. The node under test must be configured with:

1. **Client certificates**: trust `ca.crt.pem` as an anchor for client certificates (mutual TLS).
   The consumers' certificates carry their DID as a URI subject alternative name. Do *not* trust
   `stranger.crt.pem`'s CA.
2. **DID documents**: pin `consumer-a.did.json`, `consumer-b.did.json`, `issuer.did.json` and
   `rogue-issuer.did.json` (all `did:web`, not resolvable on the internet).
3. **Trusted issuers**: `{issuer}` for both `ValidQueryCredential` and
   `ValidatedQueryCredential`. The rogue issuer must be trusted for nothing.
4. **Profile**: install `profiles/conformance-{PROFILE_VERSION}.toml` (IRI `{PROFILE_IRI}`,
   version {PROFILE_VERSION}, release `auto`) with its `queries/`.
5. **Data**: load `dataset.ttl` as a dataset conforming to `{ONTOLOGY}` (graph
   `{DATASET_GRAPH}`), and nothing else that the profile's queries would count.
6. **Limits**: a query time limit of {QUERY_TIMEOUT_SECS} s; the default envelope limit of 1 MiB.
7. **Identity**: a node without its own may use `node/` (certificate for `localhost`, signed by
   `ca.crt.pem`, and an Ed25519 key under `{TEST_NODE_DID}`).
8. **Access tokens**: `POST /oauth2/token` (RFC 7523 JWT bearer assertion), tokens bound to the
   consumer's DID and to the client certificate they were issued over.

For a `kikv` node, `kikv-trust.toml` holds these settings. Then run:

    kikv-conformance run --node https://HOST:PORT --setup THIS_DIR
"#
    )
}
