//! Judging what came back against what a scenario expects: a TLS refusal, a refusal with its
//! HTTP status and reason code, or an answer whose signature verifies against the node's DID
//! document, whose audit receipt verifies (signed checkpoint and RFC 9162 inclusion proof), and
//! whose rows are the expected ones.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::jose::{raw_public_key, verify_ed25519, verify_jws};
use crate::request::{Sent, Target};
use crate::scenario::{Expect, ExpectedRows};
use crate::wire::Response;

/// What a request got, and whether that is what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the outcome matches the expectation.
    pub passed: bool,
    /// What came back, in one line.
    pub got: String,
}

impl Verdict {
    fn pass(got: String) -> Self {
        Self { passed: true, got }
    }

    fn fail(got: String) -> Self {
        Self { passed: false, got }
    }
}

/// Judges `sent` against `expect`; expected row files are read from `expected_dir`.
pub fn judge(sent: &Sent, expect: &Expect, target: &Target, expected_dir: &Path) -> Verdict {
    let response = match &sent.result {
        // A refusal at step 1 is a TLS alert, during the handshake or (TLS 1.3) on first read;
        // a connection that merely broke off is no proof of a refusal.
        Err(error) if error.reason.contains("alert") => {
            let got = format!("no response ({error})");
            return if expect.transport.is_some() {
                Verdict::pass(got)
            } else {
                Verdict::fail(got)
            };
        }
        Err(error) => return Verdict::fail(format!("no response ({error})")),
        Ok(response) => response,
    };
    let reason = reason_code(response);
    let got = format!(
        "{} {}",
        response.status,
        reason.as_deref().unwrap_or("(no reason)")
    );
    if Some(response.status) != expect.status {
        return Verdict::fail(format!("{got}: {}", short_body(response)));
    }
    if let Some(expected) = &expect.reason {
        return if reason.as_deref() == Some(expected.as_str()) {
            Verdict::pass(got)
        } else {
            Verdict::fail(format!("{got}: {}", short_body(response)))
        };
    }
    let files = expect.rows.clone().unwrap_or_default();
    match check_answer(response, sent, target, expected_dir, &files) {
        Ok(()) => Verdict::pass(format!(
            "{} signed answer, receipt and rows verified",
            response.status
        )),
        Err(failure) => Verdict::fail(format!("{}: {failure}", response.status)),
    }
}

/// The machine-readable reason of a refusal: the gen 1 error report's `reason`, a JSON
/// `reason` or OAuth `error`, or the `kikv-reason` header.
pub fn reason_code(response: &Response) -> Option<String> {
    let json: Option<Value> = serde_json::from_slice(&response.body).ok();
    let from_json = json.as_ref().and_then(|j| {
        [&j["payload"]["body"]["reason"], &j["reason"], &j["error"]]
            .into_iter()
            .find_map(|v| v.as_str().map(str::to_owned))
    });
    from_json.or_else(|| response.header("kikv-reason").map(str::to_owned))
}

fn short_body(response: &Response) -> String {
    let text = String::from_utf8_lossy(&response.body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The answer document of a 200 in the request's generation, after the envelope checks.
fn answer_document(response: &Response, sent: &Sent) -> Result<Value, String> {
    let json: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("the answer is not JSON: {e}"))?;
    if sent.generation == 2 {
        if response.header("references") != Some(sent.thread_id.as_str()) {
            return Err("the gen 2 answer's References is not the request's".into());
        }
        return Ok(json);
    }
    let payload = &json["payload"];
    if payload["type"] != "v1/basic-message/response" {
        return Err(format!("the envelope type is {}", payload["type"]));
    }
    if payload["thread_id"] != sent.thread_id.as_str() {
        return Err("the answer's thread_id is not the request's".into());
    }
    Ok(payload["body"]["message"].clone())
}

/// The public JWK of `kid` in the node's DID document.
fn node_key<'a>(target: &'a Target, kid: &str) -> Result<&'a Value, String> {
    let document = &target.did_document;
    let absolute = |id: &str| {
        if id.starts_with('#') {
            format!("{}{id}", target.node_did)
        } else {
            id.to_owned()
        }
    };
    document["verificationMethod"]
        .as_array()
        .and_then(|methods| {
            methods
                .iter()
                .find(|m| m["id"].as_str().map(absolute).as_deref() == Some(kid))
        })
        .map(|m| &m["publicKeyJwk"])
        .ok_or_else(|| format!("{kid} is not in the node's DID document"))
}

fn check_answer(
    response: &Response,
    sent: &Sent,
    target: &Target,
    expected_dir: &Path,
    files: &[String],
) -> Result<(), String> {
    let document = answer_document(response, sent)?;
    let jws = document["jws"].as_str().ok_or("the answer has no jws")?;
    let header = jws.split('.').next().unwrap_or_default();
    let header: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("the answer's JWS header is unreadable")?;
    let kid = header["kid"]
        .as_str()
        .ok_or("the answer's JWS has no kid")?;
    let jwk = node_key(target, kid)?;
    let (_, payload) = verify_jws(jws, jwk).map_err(|e| format!("answer signature: {e}"))?;
    let payload: Value = serde_json::from_slice(&payload)
        .map_err(|e| format!("the signed answer is not JSON: {e}"))?;
    for (claim, wanted) in [
        ("iss", target.node_did.as_str()),
        ("aud", sent.consumer_did.as_str()),
        ("thread_id", sent.thread_id.as_str()),
    ] {
        if payload[claim] != wanted {
            return Err(format!(
                "the signed answer's {claim} is {}, not {wanted}",
                payload[claim]
            ));
        }
    }
    if payload["resultset"] != document["resultset"] {
        return Err("the unsigned resultset differs from the signed one".into());
    }
    check_receipt(&document["receipt"], jwk).map_err(|e| format!("receipt: {e}"))?;
    let resultset = payload["resultset"].as_array().ok_or("no resultset")?;
    if resultset.len() != files.len() {
        return Err(format!(
            "{} results for {} expected",
            resultset.len(),
            files.len()
        ));
    }
    for (entry, file) in resultset.iter().zip(files) {
        compare_rows(&entry["result"], &expected_dir.join(file))?;
    }
    Ok(())
}

/// Compares a SPARQL 1.1 JSON result with an expected-rows file.
fn compare_rows(result: &Value, file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let expected: ExpectedRows =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let variables: Vec<String> = result["head"]["vars"]
        .as_array()
        .map(|vars| {
            vars.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<std::collections::BTreeMap<String, String>> = result["results"]["bindings"]
        .as_array()
        .ok_or("the result has no bindings")?
        .iter()
        .map(|row| {
            row.as_object()
                .map(|cells| {
                    cells
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v["value"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let got = ExpectedRows { variables, rows };
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "rows differ from {}: got {}",
            file.display(),
            serde_json::to_string(
                &serde_json::json!({"variables": got.variables, "rows": got.rows})
            )
            .unwrap_or_default()
        ))
    }
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn decode_hash(text: Option<&str>, what: &str) -> Result<[u8; 32], String> {
    text.and_then(|t| B64.decode(t).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{what} is not a Base64 SHA-256 hash"))
}

/// Checks an audit receipt: the checkpoint is a signed note signed by the node's key, and the
/// inclusion proof leads from the leaf hash to the checkpoint's root.
pub fn check_receipt(receipt: &Value, node_jwk: &Value) -> Result<(), String> {
    if receipt.is_null() {
        return Err("the answer carries no audit receipt".into());
    }
    let index = receipt["index"].as_u64().ok_or("no index")?;
    let leaf = decode_hash(receipt["leaf_hash"].as_str(), "leaf_hash")?;
    let proof = receipt["inclusion_proof"]
        .as_array()
        .ok_or("no inclusion_proof")?
        .iter()
        .map(|p| decode_hash(p.as_str(), "an inclusion proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = receipt["checkpoint"].as_str().ok_or("no checkpoint")?;
    let (size, root) = verify_checkpoint(checkpoint, node_jwk)?;
    verify_inclusion(&leaf, index, size, &proof, &root)
}

/// Verifies a C2SP signed-note checkpoint (`origin`, `size`, `root`, blank line, signature
/// lines) with the node's Ed25519 key; returns its size and root.
fn verify_checkpoint(note: &str, node_jwk: &Value) -> Result<(u64, [u8; 32]), String> {
    let (text, signatures) = note
        .split_once("\n\n")
        .ok_or("the checkpoint is not a signed note")?;
    let lines: Vec<&str> = text.lines().collect();
    let [_origin, size, root, ..] = lines.as_slice() else {
        return Err("the checkpoint has fewer than three lines".into());
    };
    let size: u64 = size
        .parse()
        .map_err(|_| "the checkpoint size is not a number")?;
    let root = decode_hash(Some(root), "the checkpoint root")?;
    let public = raw_public_key(node_jwk).ok_or("the node key is not Ed25519")?;
    let message = format!("{text}\n");
    for line in signatures.lines() {
        let Some((name, signature)) = line
            .strip_prefix("\u{2014} ")
            .and_then(|l| l.rsplit_once(' '))
        else {
            continue;
        };
        let key_id = &hash(&[name.as_bytes(), b"\n", &[0x01], &public])[..4];
        let bytes = B64.decode(signature).unwrap_or_default();
        if bytes.len() == 68 && &bytes[..4] == key_id {
            verify_ed25519(node_jwk, message.as_bytes(), &bytes[4..])
                .map_err(|e| format!("checkpoint signature: {e}"))?;
            return Ok((size, root));
        }
    }
    Err("the checkpoint carries no signature by the node's key".into())
}

/// RFC 9162 §2.1.3.2: verifies an inclusion proof.
fn verify_inclusion(
    leaf: &[u8; 32],
    index: u64,
    size: u64,
    proof: &[[u8; 32]],
    root: &[u8; 32],
) -> Result<(), String> {
    if index >= size {
        return Err(format!("index {index} is outside a tree of {size}"));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err("the inclusion proof is too long".into());
        }
        if f & 1 == 1 || f == s {
            r = hash(&[&[0x01], p, &r]);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = hash(&[&[0x01], &r, p]);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err("the inclusion proof is too short".into());
    }
    if &r != root {
        return Err("the inclusion proof does not lead to the signed root".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jose::Key;

    fn leaf(data: &[u8]) -> [u8; 32] {
        hash(&[&[0x00], data])
    }

    /// A checkpoint note over `size` and `root`, signed by `key` under the name `origin`.
    fn checkpoint(key: &Key, size: u64, root: &[u8; 32]) -> String {
        let text = format!("origin\n{size}\n{}\n", B64.encode(root));
        let public = raw_public_key(&key.public_jwk()).unwrap();
        let key_id = &hash(&[b"origin", b"\n", &[0x01], &public])[..4];
        let mut signature = key_id.to_vec();
        signature.extend(key.sign(text.as_bytes()).unwrap());
        format!("{text}\n\u{2014} origin {}\n", B64.encode(signature))
    }

    /// A three-entry log: leaves, root, and the receipt of entry `index` with `proof`.
    fn receipt(key: &Key, index: u64, proof: &[[u8; 32]], root: &[u8; 32]) -> Value {
        json!({
            "index": index,
            "leaf_hash": B64.encode(leaf(format!("entry {index}").as_bytes())),
            "checkpoint": checkpoint(key, 3, root),
            "inclusion_proof": proof.iter().map(|p| B64.encode(p)).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn a_receipt_verifies_and_any_change_to_it_is_caught() {
        let key = Key::generate("did:web:node.test#key-1").unwrap();
        let other = Key::generate("did:web:node.test#key-1").unwrap();
        let leaves: Vec<[u8; 32]> = (0..3)
            .map(|i| leaf(format!("entry {i}").as_bytes()))
            .collect();
        let left = hash(&[&[0x01], &leaves[0], &leaves[1]]);
        let root = hash(&[&[0x01], &left, &leaves[2]]);
        let jwk = key.public_jwk();
        check_receipt(&receipt(&key, 2, &[left], &root), &jwk).unwrap();
        check_receipt(&receipt(&key, 0, &[leaves[1], leaves[2]], &root), &jwk).unwrap();

        let failures = [
            (
                receipt(&key, 1, &[leaves[1], leaves[2]], &root),
                "does not lead",
            ),
            (receipt(&key, 0, &[leaves[1]], &root), "too short"),
            (receipt(&key, 2, &[left], &leaves[0]), "does not lead"),
            (
                receipt(&other, 2, &[left], &root),
                "no signature by the node's key",
            ),
            (Value::Null, "no audit receipt"),
        ];
        for (receipt, expected) in failures {
            let error = check_receipt(&receipt, &jwk).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_reason_is_read_from_the_error_report_or_the_header() {
        let response = |body: &str, headers: Vec<(String, String)>| Response {
            status: 403,
            headers,
            body: body.as_bytes().to_vec(),
        };
        let gen1 =
            r#"{"payload": {"type": "v1/error-report", "body": {"reason": "audience_wrong"}}}"#;
        assert_eq!(
            reason_code(&response(gen1, vec![])).as_deref(),
            Some("audience_wrong")
        );
        let oauth = r#"{"error": "invalid_grant", "error_description": "no"}"#;
        assert_eq!(
            reason_code(&response(oauth, vec![])).as_deref(),
            Some("invalid_grant")
        );
        let header = vec![("kikv-reason".to_owned(), "token_missing".to_owned())];
        assert_eq!(
            reason_code(&response("denied", header)).as_deref(),
            Some("token_missing")
        );
        assert_eq!(reason_code(&response("denied", vec![])), None);
    }
}
