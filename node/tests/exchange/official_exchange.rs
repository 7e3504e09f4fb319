//! Every official query of the six shipped profiles, asked through the exchange as a consumer
//! asks it: profiles registering the verbatim files, a generated provider loaded with `kikv
//! load`, `kikv serve` on loopback, one validated-query credential per query signed by the
//! beheerorganisatie, a presentation with the query's parameters, `POST /api/verifiedsparql`
//! over mutual TLS with an access token. Each answer's signature is checked with the node's
//! published key, and its rows must equal the store's own evaluation of the same query with the
//! same parameters (read-only, beside the serving node).

#![allow(clippy::panic, clippy::unwrap_in_result)] // a test fails by panicking

use crate::support::common;
use crate::support::exchange_node;

use std::collections::BTreeMap;
use std::path::Path;

use common::{access_token, run_in, stderr, RunningNode};
use exchange_node::{answer_verifier, identity, post_verified_sparql, read, NODE_DID};
use kikv::credential::{
    create_presentation, issue_credential, CredentialRequest, Generation, NodeKey,
    PresentationRequest, ValidatedQuery,
};
use kikv::exchange::answer::{verify_answer, ExpectedAnswer};
use kikv::exchange::envelope::new_message_id;
use kikv::exchange::{gen1, Envelope, Generation as EnvelopeGeneration};
use kikv::generate::GenerateParams;
use kikv::store::{parse_read_only, NodeStore, QueryAnswer, QueryLimits};
use kikv_testkit::official::{choices_for, official_queries, parameter_sets, Kind, OfficialQuery};
use oxigraph::model::{Term, Variable};
use serde_json::{json, Value};

const ONTOLOGY: &str = "http://purl.org/ozo/onz-g";

/// The provider `kikv generate` makes below (its arguments, as the library takes them).
const GENERATED: GenerateParams = GenerateParams {
    locations: 3,
    employees: 30,
    clients: 20,
    years: 2,
    last_year: 2025,
    seed: 5,
};

fn profile_iri(folder: &str) -> String {
    format!("https://kik-v.example/afsprakenset/{folder}")
}

/// The parameter type the profile declares for a parameter of this kind.
fn declared_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Peildatum | Kind::PeriodStart | Kind::PeriodEnd => "date",
        Kind::Year | Kind::GYear => "integer",
        Kind::Quarter | Kind::Vestigingsnummer => "string",
        Kind::Zorgkantoor => "iri",
    }
}

/// A profile file per folder, registering its queries by absolute path (never copied) with
/// their parameters declared inline; each parameter optional, as `?zorgkantoor` is.
fn write_profiles(dir: &Path, queries: &[OfficialQuery]) {
    let mut files: BTreeMap<&str, String> = BTreeMap::new();
    for query in queries {
        let file = files.entry(query.profile).or_insert_with(|| {
            let (name, version) = query.profile.rsplit_once('-').unwrap();
            format!(
                "iri = \"{}\"\nversion = \"{version}\"\ntitle = \"{name}\"\nconsumer = \"test\"\n\
                 purpose = \"test\"\nlegal_basis = \"test\"\nontologies = [\"{ONTOLOGY}\"]\n\
                 [release]\nmode = \"auto\"\n",
                profile_iri(query.profile)
            )
        });
        file.push_str(&format!(
            "\n[[query]]\nid = \"{}\"\ntitle = \"{}\"\nfile = \"{}\"\n",
            query.id,
            query.id,
            query.path.display()
        ));
        for parameter in &query.parameters {
            file.push_str(&format!(
                "[[query.parameter]]\nname = \"{}\"\ntype = \"{}\"\nrequired = false\n",
                parameter.name,
                declared_type(parameter.kind)
            ));
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    for (profile, text) in files {
        std::fs::write(dir.join(format!("{profile}.toml")), text).unwrap();
    }
}

/// A parameter value as the consumer writes it in the presentation.
fn json_value(term: &Term) -> Value {
    match term {
        Term::NamedNode(n) => json!(n.as_str()),
        Term::Literal(l) if l.datatype().as_str().ends_with("#integer") => {
            json!(l.value().parse::<i64>().unwrap())
        }
        Term::Literal(l) if l.datatype().as_str().ends_with("#gYear") => {
            json!(l.value().parse::<i64>().unwrap())
        }
        Term::Literal(l) => json!(l.value()),
        other => panic!("no parameter value: {other}"),
    }
}

/// A result cell as the SPARQL JSON results format writes it, for comparison with the answer.
fn json_cell(term: &Option<Term>) -> Value {
    match term {
        None => Value::Null,
        Some(Term::NamedNode(n)) => json!({"type": "uri", "value": n.as_str()}),
        Some(Term::BlankNode(_)) => json!({"type": "bnode"}),
        Some(Term::Literal(l)) => json!({"type": "literal", "value": l.value()}),
        #[allow(unreachable_patterns)]
        Some(other) => json!(other.to_string()),
    }
}

/// The answer's rows in the same shape: for each row, each column's type and value.
fn answer_rows(result: &Value, columns: &[String]) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = result["results"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|binding| {
            columns
                .iter()
                .map(|c| match &binding[c.as_str()] {
                    Value::Null => Value::Null,
                    cell if cell["type"] == "bnode" => json!({"type": "bnode"}),
                    cell => {
                        let kind = if cell["type"] == "typed-literal" {
                            "literal"
                        } else {
                            cell["type"].as_str().unwrap()
                        };
                        json!({"type": kind, "value": cell["value"]})
                    }
                })
                .collect()
        })
        .collect();
    rows.sort_by_key(|r| serde_json::to_string(r).unwrap());
    rows
}

#[test]
fn every_official_query_is_answered_through_the_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(
        dir.path(),
        &["dev-pki", "--out", "pki", "--node-did", NODE_DID],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let pki = dir.path().join("pki");
    let queries = official_queries();
    assert_eq!(queries.len(), 121);
    write_profiles(&pki.join("profiles"), &queries);
    let store = "[store]\nquery_timeout_secs = 120\n";
    exchange_node::write_config(&pki, "profiles", store);

    // A small generated provider and its reference data, loaded as two datasets.
    let output = run_in(
        &pki,
        &[
            "generate",
            "--locations",
            "3",
            "--employees",
            "30",
            "--clients",
            "20",
            "--years",
            "2",
            "--seed",
            "5",
            "--out",
            "provider.nt",
            "--reference",
            "reference.ttl",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    for (file, graph) in [
        ("provider.nt", "https://zorggroep.test/data/provider"),
        ("reference.ttl", "https://zorggroep.test/data/reference"),
    ] {
        let output = run_in(&pki, &["load", file, "--graph", graph]);
        assert!(output.status.success(), "{}", stderr(&output));
    }

    let node = RunningNode::start(&pki);
    let consumer = NodeKey::from_file(&pki.join("dev-zorgkantoor.jwk.json")).unwrap();
    let issuer = NodeKey::from_file(&pki.join("dev-beheerorganisatie.jwk.json")).unwrap();
    let pem = identity(&pki, "zorgkantoor");
    let ca = read(&pki, "dev-ca.crt.pem");
    let token = access_token(node.address, &ca, &pem, &consumer, NODE_DID);
    let store = NodeStore::open_read_only(&pki.join("data").join("store")).unwrap();
    let limits = QueryLimits {
        timeout: std::time::Duration::from_secs(120),
        max_rows: 100_000,
    };
    let choices = choices_for(&GENERATED);
    let did_document = {
        let (status, document) = common::https_get(
            node.address,
            &ca,
            common::ClientIdentity::Pem(&pem),
            "/.well-known/did.json",
            "application/json",
        )
        .unwrap();
        assert_eq!(status, 200);
        serde_json::from_str::<Value>(&document).unwrap()
    };

    let mut failures = Vec::new();
    for query in &queries {
        let now = chrono::Utc::now().timestamp();
        let credential = issue_credential(
            &issuer,
            &CredentialRequest {
                generation: Generation::One,
                subject: consumer.did().to_owned(),
                query: ValidatedQuery {
                    profile: profile_iri(query.profile),
                    profile_version: query.profile.rsplit_once('-').unwrap().1.to_owned(),
                    ontology: ONTOLOGY.to_owned(),
                    query: query.text.clone(),
                    query_id: Some(query.id.clone()),
                },
                valid_from: now - 60,
                valid_until: now + 3600,
                status: None,
            },
        )
        .unwrap();
        // The first parameter set; a vestigingsnummer the data may not have still runs.
        let set = parameter_sets(query, &choices).swap_remove(0);
        let parameters: BTreeMap<String, Value> = set
            .values
            .iter()
            .map(|(p, term)| (p.name.clone(), json_value(term)))
            .collect();
        let thread = format!("official-{}", query.key());
        let presentation = create_presentation(
            &consumer,
            &PresentationRequest {
                audience: NODE_DID.into(),
                credentials: vec![credential],
                parameters: parameters.clone(),
                now,
                lifetime_secs: 300,
            },
        )
        .unwrap();
        let envelope = Envelope {
            generation: EnvelopeGeneration::One,
            message_id: new_message_id(),
            thread_id: thread.clone(),
            from: consumer.did().into(),
            to: NODE_DID.into(),
            expires_at: Some(now + 300),
            issued_at: Some(now),
            reply_url: None,
            presentation,
        };
        let body = serde_json::to_vec(&gen1::request(&envelope)).unwrap();
        let (status, reply) = post_verified_sparql(
            (node.address, ca.as_str(), &pem),
            Some(&token),
            &[("Content-Type", gen1::MEDIA_TYPE)],
            &body,
        );
        if status != 200 {
            failures.push(format!("{} [{}]: {status} {reply}", query.key(), set.label));
            continue;
        }
        let document = &reply["payload"]["body"]["message"];
        let jws = document["jws"].as_str().unwrap();
        let answer = verify_answer(
            document,
            &answer_verifier(&did_document, jws),
            &ExpectedAnswer {
                node_did: NODE_DID.into(),
                consumer_did: consumer.did().into(),
                thread_id: thread.clone(),
            },
        )
        .unwrap();
        assert_eq!(answer.resultset.len(), 1, "{}", query.key());

        // The same query on the store, beside the node.
        let parsed = parse_read_only(&query.text).unwrap();
        let bindings: Vec<(Variable, Term)> = set
            .values
            .iter()
            .map(|(p, term)| (Variable::new(&p.name).unwrap(), term.clone()))
            .collect();
        let QueryAnswer::Solutions { variables, rows } =
            store.evaluate(&parsed, &bindings, limits).unwrap()
        else {
            panic!("{}: not a SELECT", query.key());
        };
        let columns: Vec<String> = variables.iter().map(|v| v.as_str().to_owned()).collect();
        let mut expected: Vec<Vec<Value>> = rows
            .iter()
            .map(|row| row.iter().map(json_cell).collect())
            .collect();
        expected.sort_by_key(|r| serde_json::to_string(r).unwrap());
        let got = answer_rows(&answer.resultset[0].result, &columns);
        if got != expected {
            failures.push(format!(
                "{} [{}]: the exchange answered {} rows, the store {}",
                query.key(),
                set.label,
                got.len(),
                expected.len()
            ));
        }
    }
    drop(node);
    assert!(
        failures.is_empty(),
        "{} of {} official queries were not answered as the store evaluates them:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}
