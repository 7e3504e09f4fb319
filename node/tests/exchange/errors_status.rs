//! Who is at fault, as the admin listener says it (issue 17): a request the operator got wrong
//! is a 4xx with its precise message, a failure of the node's own files is a 5xx, however the
//! request was worded. A real `kikv serve` on loopback, reached with the command line's own
//! admin client; faults are made by breaking a real file in the data directory.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::path::Path;

use crate::support::common::RunningNode;
use kikv::consumer::admin::{AdminClient, AdminClientError};
use kikv::http::admin::{BackupBody, QueryBody};

fn node() -> (tempfile::TempDir, RunningNode) {
    let (dir, _pki, node) = crate::serve::node_with_data();
    (dir, node)
}

/// The status and message of a refused admin call; panics on success or on no answer.
fn refusal(reply: Result<Vec<u8>, AdminClientError>) -> (u16, String) {
    match reply {
        Err(AdminClientError::Refused { status, message }) => (status, message),
        Err(other) => panic!("no answer from the node: {other}"),
        Ok(body) => panic!("accepted: {}", String::from_utf8_lossy(&body)),
    }
}

fn client(dir: &Path) -> AdminClient {
    AdminClient::for_data_dir(&dir.join("data")).unwrap()
}

fn backup(dir: &Path, target: &Path) -> Result<Vec<u8>, AdminClientError> {
    let body = BackupBody {
        target: target.to_path_buf(),
    };
    client(dir).post("/admin/backup", &body)
}

#[test]
fn a_backup_target_the_operator_got_wrong_is_a_400() {
    let (dir, _node) = node();
    let nowhere = dir.path().join("no-such-dir/node.tar.gz");
    assert_eq!(
        refusal(backup(dir.path(), &nowhere)),
        (
            400,
            format!(
                "backup target {} is not a file in an existing directory; give an absolute path",
                nowhere.display()
            )
        )
    );
    let taken = dir.path().join("hr.ttl");
    assert_eq!(
        refusal(backup(dir.path(), &taken)),
        (
            400,
            format!(
                "backup target {} exists already; name a new file",
                taken.display()
            )
        )
    );
}

#[test]
fn a_backup_that_fails_on_the_nodes_own_files_is_a_500() {
    let (dir, _node) = node();
    // The replay record is a file the backup copies; a directory in its place cannot be
    // copied. This was reported as the operator's fault (400) before issue 17.
    let replay = dir.path().join("data").join(kikv::credential::REPLAY_FILE);
    let _ = std::fs::remove_file(&replay);
    std::fs::create_dir(&replay).unwrap();
    let target = dir.path().join("node.tar.gz");
    let (status, message) = refusal(backup(dir.path(), &target));
    assert_eq!(
        (status, message.as_str()),
        (
            500,
            // The node names the file as its configuration does (`data_dir = "data"`).
            format!(
                "data/{}: the source path is neither a regular file nor a symlink to a regular file",
                kikv::credential::REPLAY_FILE
            )
            .as_str()
        )
    );
    assert!(!target.exists());

    // With the file back in order the same request succeeds: the 500 was the node's state.
    std::fs::remove_dir(&replay).unwrap();
    backup(dir.path(), &target).unwrap();
    assert!(target.is_file());
}

#[test]
fn a_query_the_operator_got_wrong_is_a_400_with_its_reason() {
    let (dir, _node) = node();
    let query = |query: &str, format: &str, parameters: Vec<(String, String)>| {
        let body = QueryBody {
            query: query.into(),
            format: format.into(),
            parameters,
            explain: false,
        };
        refusal(client(dir.path()).post("/admin/query", &body))
    };
    assert_eq!(
        query("SELECT * WHERE { ?s ?p ?o }", "yaml", vec![]),
        (
            400,
            "unknown output format `yaml` (use table, csv, tsv, json or xml)".into()
        )
    );
    assert_eq!(
        query(
            "SELECT * WHERE { ?s ?p ?o }",
            "json",
            vec![("jaar".into(), "2024".into())]
        ),
        (400, "parameter jaar: the query has no ?jaar".into())
    );
    assert_eq!(
        query(
            "SELECT * WHERE { ?s ?p ?jaar }",
            "json",
            vec![("jaar".into(), "<not an iri>".into())]
        )
        .0,
        400
    );
    let (status, message) = query("SELECT * WHERE { ?s ?p }", "json", vec![]);
    assert_eq!(status, 400, "{message}");
    assert!(message.starts_with("SPARQL syntax error: "), "{message}");
    let (status, message) = query("DELETE WHERE { ?s ?p ?o }", "json", vec![]);
    assert_eq!(
        (status, message.as_str()),
        (
            400,
            "update queries are refused: only read-only queries run here"
        )
    );
}

#[test]
fn a_request_without_a_valid_token_is_a_401() {
    let (dir, _node) = node();
    let ticket = kikv::operator::AdminTicket::read(&dir.path().join("data")).unwrap();
    // The loopback listener is reached through a ticket: a copy with another token.
    let other = tempfile::tempdir().unwrap();
    let mut forged = ticket.clone();
    forged.token = "0".repeat(64);
    forged.write(other.path()).unwrap();
    let client = AdminClient::for_data_dir(other.path()).unwrap();
    assert_eq!(
        refusal(client.get("/admin/datasets")),
        (401, "missing or wrong admin token".into())
    );
}
