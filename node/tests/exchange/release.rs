//! The manual release queue end to end through the real `kikv` binary: a development PKI, the
//! demo profile switched to `mode = "manual"` in a temporary profile directory, a credential
//! issued with `kikv credential issue`, `kikv serve`, requests over real mutual TLS, decisions
//! through `kikv release` and the admin API, and the exchange log read with `kikv audit show`.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::console as console_support;
use crate::support::exchange as exchange_support;
use crate::support::release as release_support;

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{https_get, run_in, stderr, stdout, ClientIdentity, RunningNode};
use kikv::exchange::gen1;
use release_support::{
    activities, entry, post, read, Setup, EXPECTED, PROFILE, RELEASED_AND_DELIVERED,
};
use serde_json::{json, Value};

#[test]
fn an_approval_answers_the_held_request_once() {
    let setup = Setup::new("deadline_hours = 1", 60);
    let node = RunningNode::start(&setup.pki);
    let body = setup.envelope("thread-held", None);
    let (status, reply, id) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| post(&node, &setup, &body));
        let item = setup.pending("thread-held");
        let id = item["id"].as_str().unwrap().to_owned();
        assert_eq!(item["consumer"], setup.consumer.did());
        assert_eq!(item["profile"]["iri"], PROFILE);
        assert_eq!(item["queries"][0]["indicator"], "1");
        assert_eq!(item["parameters"], json!({"peildatum": "2024-06-30"}));
        assert_eq!(item["generation"], 1);
        assert_eq!(item["reply_url"], Value::Null);
        assert_eq!(item["decided_by"], Value::Null);

        // The preview: the answer from current data, before anything is released.
        let (status, shown) = setup.admin("GET", &format!("/admin/release/{id}"), None);
        assert_eq!(status, 200, "{shown}");
        let count = &shown["preview"][0]["result"]["results"]["bindings"][0]["aantal_medewerkers"];
        assert_eq!(count["value"], EXPECTED);

        // Bad input decides nothing.
        let approve = format!("/admin/release/{id}/approve");
        let (status, error) = setup.admin("POST", &approve, Some(json!({"operator": " "})));
        assert_eq!(
            (status, error),
            (400, json!({"error": "an operator name is required"}))
        );
        let (status, error) = setup.admin(
            "POST",
            "/admin/release/nope/approve",
            Some(json!({"operator": "x"})),
        );
        assert_eq!(
            (status, error),
            (404, json!({"error": "no release item nope"}))
        );

        let output = run_in(
            &setup.pki,
            &[
                "release",
                "approve",
                &id,
                "--operator",
                "alice",
                "--reason",
                "checked",
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("approved"), "{}", stdout(&output));

        // A decided item cannot be decided again, either way.
        let already = json!({"error": format!("release item {id} is already approved")});
        let (status, error) = setup.admin("POST", &approve, Some(json!({"operator": "alice"})));
        assert_eq!((status, error), (409, already.clone()));
        let reject = format!("/admin/release/{id}/reject");
        let refusal = json!({"operator": "bob", "reason": "late"});
        let (status, error) = setup.admin("POST", &reject, Some(refusal));
        assert_eq!((status, error), (409, already));
        let (status, reply) = waiting.join().unwrap();
        (status, reply, id)
    });
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["payload"]["type"], gen1::RESPONSE_TYPE);
    let document = &reply["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-held"),
        EXPECTED
    );
    // Delivered in the held response: nothing is left to fetch, and the list says so.
    let (status, _) = setup.poll(&node, "zorgkantoor", "thread-held");
    assert_eq!(status, 410);
    let (_, item) = setup.admin("GET", &format!("/admin/release/{id}"), None);
    assert_eq!(item["delivery"], "delivered", "{item}");

    let log = setup.log("thread-held");
    assert_eq!(activities(&log), RELEASED_AND_DELIVERED);
    let released = entry(&log, "released");
    assert_eq!(released["operator"], "alice");
    assert_eq!(released["description"], "checked");
}

#[test]
fn a_rejection_and_an_approval_are_fetched_once_by_their_consumer() {
    let setup = Setup::new("deadline_hours = 1", 1);
    let node = RunningNode::start(&setup.pki);
    let (status, reply) = post(&node, &setup, &setup.envelope("thread-no", None));
    assert_eq!(
        (status, &reply["status"]),
        (202, &json!("queued")),
        "{reply}"
    );
    let id = setup.pending("thread-no")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, reply) = setup.poll(&node, "zorgkantoor", "thread-no");
    assert_eq!(
        (status, &reply["status"]),
        (202, &json!("queued")),
        "{reply}"
    );
    assert_eq!(pending_metric(&node, &setup), "1");

    let output = run_in(&setup.pki, &["release", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = stdout(&output);
    assert!(listed.starts_with("ID  "), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("pending")),
        "{listed}"
    );
    let output = run_in(&setup.pki, &["release", "show", &id]);
    let shown = stdout(&output);
    assert!(shown.contains("aantal_medewerkers"), "{shown}");
    assert!(shown.lines().any(|l| l.trim() == EXPECTED), "{shown}");

    // A rejection needs a reason, on the command line and in the API.
    let output = run_in(&setup.pki, &["release", "reject", &id, "--operator", "bob"]);
    assert_eq!(output.status.code(), Some(2));
    let reject = format!("/admin/release/{id}/reject");
    let (status, error) = setup.admin("POST", &reject, Some(json!({"operator": "bob"})));
    assert_eq!(
        (status, error),
        (400, json!({"error": "a reason is required to reject"}))
    );

    let output = run_in(
        &setup.pki,
        &[
            "release",
            "reject",
            &id,
            "--operator",
            "bob",
            "--reason",
            "geen grondslag",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    // Another consumer cannot see the conversation; its consumer gets the report once.
    assert_eq!(setup.poll(&node, "igj", "thread-no").0, 404);
    let (status, body) = https_get(
        node.address,
        &setup.ca,
        ClientIdentity::Pem(&setup.identity),
        "/api/verifiedsparql/thread-no",
        "application/json",
    )
    .unwrap();
    assert_eq!(status, 403, "{body}");
    let (status, report) = setup.poll(&node, "zorgkantoor", "thread-no");
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["type"], gen1::ERROR_TYPE);
    assert_eq!(report["payload"]["body"]["reason"], "release_refused");
    assert_eq!(
        report["payload"]["body"]["message"],
        "the provider did not release the answer: geen grondslag"
    );
    assert_eq!(setup.poll(&node, "zorgkantoor", "thread-no").0, 410);
    assert_eq!(pending_metric(&node, &setup), "0");

    // An approval after the hold ended is fetched the same way.
    let (status, _) = post(&node, &setup, &setup.envelope("thread-yes", None));
    assert_eq!(status, 202);
    let id = setup.pending("thread-yes")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approve = format!("/admin/release/{id}/approve");
    let (status, item) = setup.admin("POST", &approve, Some(json!({"operator": "carol"})));
    assert_eq!(status, 200, "{item}");
    assert_eq!(
        (&item["state"], &item["decided_by"]),
        (&json!("approved"), &json!("carol"))
    );
    let (status, reply) = setup.poll(&node, "zorgkantoor", "thread-yes");
    assert_eq!(status, 200, "{reply}");
    let document = &reply["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-yes"),
        EXPECTED
    );

    let log = setup.log("thread-no");
    assert_eq!(
        activities(&log),
        [
            "received",
            "verified",
            "queued_for_release",
            "rejected_by_operator",
            "delivered"
        ]
    );
    let rejected = entry(&log, "rejected_by_operator");
    assert_eq!(rejected["operator"], "bob");
    assert_eq!(rejected["outcome"], "release_refused");
    assert_eq!(rejected["description"], "geen grondslag");
    assert_eq!(activities(&setup.log("thread-yes")), RELEASED_AND_DELIVERED);
}

#[test]
fn a_pending_request_survives_a_restart_and_its_answer_goes_to_the_reply_address() {
    let setup = Setup::new("deadline_hours = 1", 30);
    let receiver_pki = deliver_with_node_certificate(&setup.pki);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = runtime.block_on(exchange_support::receiver(&receiver_pki, listener, 0));

    let mut node = RunningNode::start(&setup.pki);
    let reply_url = format!("https://localhost:{port}/answers");
    let (status, reply) = post(
        &node,
        &setup,
        &setup.envelope("thread-async", Some(reply_url.clone())),
    );
    assert_eq!(status, 202, "{reply}");
    let before = setup.pending("thread-async");
    assert_eq!(before["reply_url"], reply_url.as_str());
    common::stop_gracefully(&mut node);

    let node = RunningNode::start(&setup.pki);
    let after = setup.pending("thread-async");
    assert_eq!(after, before);
    let id = after["id"].as_str().unwrap();
    let output = run_in(
        &setup.pki,
        &["release", "approve", id, "--operator", "dana"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(
        &setup.pki,
        &["release", "approve", id, "--operator", "dana"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!("kikv: error: release item {id} is already approved")
    );

    let log = setup.log_when_delivered("thread-async");
    let delivered = seen.accepted.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    let answer: Value = serde_json::from_slice(&delivered[0].1).unwrap();
    let document = &answer["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-async"),
        EXPECTED
    );
    assert_eq!(activities(&log), RELEASED_AND_DELIVERED);
    assert_eq!(entry(&log, "released")["operator"], "dana");
    let mut node = node;
    common::stop_gracefully(&mut node);
    let output = run_in(&setup.pki, &["audit", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_passed_deadline_sends_an_error_report() {
    let setup = Setup::new("deadline_seconds = 2", 0);
    let node = RunningNode::start(&setup.pki);
    let (status, _) = post(&node, &setup, &setup.envelope("thread-late", None));
    assert_eq!(status, 202);
    let id = setup.pending("thread-late")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let waited = Instant::now() + Duration::from_secs(30);
    let (status, report) = loop {
        let (status, reply) = setup.poll(&node, "zorgkantoor", "thread-late");
        if status != 202 || Instant::now() > waited {
            break (status, reply);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["body"]["reason"], "release_expired");
    let (status, item) = setup.admin("GET", &format!("/admin/release/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(
        (&item["state"], &item["preview"]),
        (&json!("expired"), &Value::Null)
    );
    let approve = format!("/admin/release/{id}/approve");
    let (status, error) = setup.admin("POST", &approve, Some(json!({"operator": "erin"})));
    assert_eq!(
        (status, error),
        (
            409,
            json!({"error": format!("release item {id} is already expired")})
        )
    );
    let log = setup.log("thread-late");
    assert_eq!(
        activities(&log),
        [
            "received",
            "verified",
            "queued_for_release",
            "release_expired",
            "delivered"
        ]
    );
    assert_eq!(entry(&log, "release_expired")["outcome"], "release_expired");
}

#[test]
fn a_deadline_that_passed_while_the_node_was_down_expires_at_start_up() {
    let setup = Setup::new("deadline_seconds = 6", 0);
    let mut node = RunningNode::start(&setup.pki);
    let (status, _) = post(&node, &setup, &setup.envelope("thread-down", None));
    assert_eq!(status, 202);
    let item = setup.pending("thread-down");
    common::stop_gracefully(&mut node);
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(item["deadline"].clone()).unwrap();
    while chrono::Utc::now() <= deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let node = RunningNode::start(&setup.pki);
    // Expired before the node listened: the first poll finds the report.
    let (status, report) = setup.poll(&node, "zorgkantoor", "thread-down");
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["body"]["reason"], "release_expired");
}

#[test]
fn the_command_line_needs_a_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["release", "list"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "kikv: error: no running node serves kikv-data: the release queue is kept by `kikv serve`"
    );
}

/// Makes the node in `pki` serve and deliver with a certificate for `localhost` usable both as
/// server and as client identity (signed by the development CA; `kikv dev-pki` makes the node's
/// certificate for serving only), and returns the PKI of a consumer's receiver serving with it.
fn deliver_with_node_certificate(pki: &Path) -> exchange_support::Pki {
    let node = release_support::replace_node_certificate(pki, &["localhost".to_owned()]);
    let pem = || exchange_support::Pem {
        cert: node.cert.clone(),
        key: node.key.clone(),
    };
    exchange_support::Pki {
        ca: read(pki, "dev-ca.crt.pem"),
        receiver: pem(),
        node: pem(),
    }
}

/// The data steward's flow in a real browser (headless Chromium through chromedriver): two
/// requests wait for release; in the console, opened with the address `kikv console` prints,
/// one is approved and the other rejected with a reason. The consumer then fetches the signed
/// answer and the error report. Skipped with a notice without Chromium unless `CI` is set.
#[test]
fn the_operator_approves_one_request_and_rejects_another_in_the_console() {
    use console_support::webdriver::{find_browser, Browser};
    let Some((chromium, chromedriver)) = find_browser() else {
        let message = "chromium and chromedriver are not installed (Debian packages `chromium` \
                       and `chromium-driver`; .ci/run installs them)";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        let _ = writeln!(std::io::stderr(), "skipped: {message}");
        return;
    };
    let started = Instant::now();
    let setup = Setup::new("deadline_hours = 1", 0);
    let node = RunningNode::start(&setup.pki);
    for thread in ["thread-yes", "thread-no"] {
        let (status, reply) = post(&node, &setup, &setup.envelope(thread, None));
        assert_eq!(status, 202, "{reply}");
    }
    let yes = setup.pending("thread-yes")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let no = setup.pending("thread-no")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = run_in(&setup.pki, &["console"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let browser = Browser::start(&chromium, &chromedriver);
    browser.open(stdout(&output).trim());

    // The queue lists both; the first is opened from its row, its preview read, and approved.
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    let link = browser.wait(&format!("#pending tr[data-id='{yes}'] a"));
    browser.wait(&format!("#pending tr[data-id='{no}']"));
    browser.click(&link);
    browser.wait_for("#view", |t| t.contains("aantal_medewerkers"));
    let preview = browser.run("return document.querySelector('.preview-entry td').textContent;");
    assert_eq!(preview.as_str(), Some(EXPECTED));
    let operator = browser.wait("#operator");
    browser.type_into(&operator, "Anna de Vries");
    browser.click(&browser.wait("#approve"));
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    browser.wait(&format!("#decided tr[data-id='{yes}']"));

    // The second: Reject opens the dialog; an empty reason is refused, then one is given.
    browser.open(&format!(
        "http://{}/console/#/release/{no}",
        admin_address(&setup)
    ));
    browser.wait_for("#view", |t| t.contains("aantal_medewerkers"));
    assert_eq!(
        browser
            .run("return document.getElementById('operator').value;")
            .as_str(),
        Some("Anna de Vries"),
        "the operator's name is remembered"
    );
    browser.click(&browser.wait("#reject"));
    browser.click(&browser.wait("#reject-confirm"));
    // The reason field is required: the dialog stays open and nothing is decided.
    assert_eq!(
        browser.run("return document.getElementById('reject-dialog').open;"),
        Value::Bool(true)
    );
    assert_eq!(setup.pending("thread-no")["id"].as_str(), Some(no.as_str()));
    browser.type_into(
        &browser.wait("#reject-reason"),
        "Geen grondslag voor deze vraag",
    );
    browser.click(&browser.wait("#reject-confirm"));
    browser.wait(&format!("#decided tr[data-id='{no}']"));

    // The consumer gets the signed answer of the one and the error report of the other.
    let (status, answer) = setup.poll(&node, "zorgkantoor", "thread-yes");
    assert_eq!(status, 200, "{answer}");
    let document = &answer["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "thread-yes"),
        EXPECTED
    );
    let (status, report) = setup.poll(&node, "zorgkantoor", "thread-no");
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["payload"]["body"]["reason"], "release_refused");
    assert_eq!(
        report["payload"]["body"]["message"],
        "the provider did not release the answer: Geen grondslag voor deze vraag"
    );
    for (thread, activity) in [
        ("thread-yes", "released"),
        ("thread-no", "rejected_by_operator"),
    ] {
        assert_eq!(
            entry(&setup.log(thread), activity)["operator"],
            "Anna de Vries"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "console release browser test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The admin listener's address from the node's ticket.
fn admin_address(setup: &Setup) -> String {
    let ticket: Value = serde_json::from_str(&read(&setup.pki, "data/admin.token")).unwrap();
    ticket["address"].as_str().unwrap().to_owned()
}

/// An operator signed in with their own token (`kikv operator add`) decides under their name:
/// the console shows it in a read-only field, and the log names them.
#[test]
fn an_operator_token_names_the_operator_in_the_console() {
    use console_support::webdriver::{find_browser, Browser};
    let Some((chromium, chromedriver)) = find_browser() else {
        let message = "chromium and chromedriver are not installed";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        let _ = writeln!(std::io::stderr(), "skipped: {message}");
        return;
    };
    let setup = Setup::new("deadline_hours = 1", 0);
    let output = run_in(&setup.pki, &["operator", "add", "Bram Jansen"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let token = stdout(&output).trim().to_owned();
    let node = RunningNode::start(&setup.pki);
    let (status, reply) = post(&node, &setup, &setup.envelope("thread-bram", None));
    assert_eq!(status, 202, "{reply}");
    let id = setup.pending("thread-bram")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = Browser::start(&chromium, &chromedriver);
    browser.open(&format!(
        "http://{}/console/#token={token}",
        admin_address(&setup)
    ));
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    browser.open(&format!(
        "http://{}/console/#/release/{id}",
        admin_address(&setup)
    ));
    browser.wait_for("#view", |t| t.contains("aantal_medewerkers"));
    let field =
        browser.run("const o = document.getElementById('operator'); return [o.value, o.readOnly];");
    assert_eq!(field, json!(["Bram Jansen", true]));
    browser.click(&browser.wait("#approve"));
    browser.wait(&format!("#decided tr[data-id='{id}']"));
    assert_eq!(
        entry(&setup.log("thread-bram"), "released")["operator"],
        "Bram Jansen"
    );
}

/// `kikv_release_pending` in the node's `/metrics` (on its admin listener).
fn pending_metric(_node: &RunningNode, setup: &Setup) -> String {
    let (status, text) = common::admin_get(&setup.pki.join("data"), "/metrics");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix("kikv_release_pending "))
        .unwrap_or_else(|| panic!("no kikv_release_pending in {text}"))
        .to_owned()
}

/// A generation-2 request (envelope in headers) waits, is approved, and is fetched as a
/// generation-2 answer.
#[test]
fn a_generation_2_request_is_released_in_its_own_generation() {
    let setup = Setup::new("deadline_hours = 1", 0);
    let node = RunningNode::start(&setup.pki);
    let (status, reply) = release_support::post_gen2(&node, &setup, "thread-gen2");
    assert_eq!(status, 202, "{reply}");
    let item = setup.pending("thread-gen2");
    assert_eq!(item["generation"], 2);
    let approve = format!("/admin/release/{}/approve", item["id"].as_str().unwrap());
    let (status, item) = setup.admin("POST", &approve, Some(json!({"operator": "dana"})));
    assert_eq!(status, 200, "{item}");
    let (status, document) = setup.poll(&node, "zorgkantoor", "thread-gen2");
    assert_eq!(status, 200, "{document}");
    assert_eq!(
        setup.verified_count(&node, &document, "thread-gen2"),
        EXPECTED
    );
    assert_eq!(setup.poll(&node, "zorgkantoor", "thread-gen2").0, 410);
}
