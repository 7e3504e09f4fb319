//! `kikv ask` against a node that holds the question for manual release, through the real
//! binaries over real mutual TLS: `kikv ask` polls while the operator decides and prints the
//! verified answer; with a short `--wait` it prints the `kikv ask --collect` command, which
//! collects the answer after approval with the same checks of signature and audit receipt; the
//! release list says whether each answer was delivered or collected; and a collected answer
//! changed on the node's disk is refused.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::exchange_node;
use crate::support::release as release_support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::{run_in, stderr, stdout, RunningNode};
use release_support::{activities, Setup, EXPECTED, RELEASED_AND_DELIVERED};
use serde_json::Value;

/// `kikv ask` as the zorgkantoor against `node`, for peildatum 2024-06-30, printing JSON.
fn ask(setup: &Setup, node: &RunningNode, extra: &[&str]) -> Command {
    let credential = setup.pki.join("credential.jwt");
    let mut command = exchange_node::ask_command(&setup.pki, node.address, &credential);
    command
        .args(["--param", "peildatum=2024-06-30", "--format", "json"])
        .args(extra);
    command
}

/// The only pending item of the queue, once there is one.
fn first_pending(setup: &Setup) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, list) = setup.admin("GET", "/admin/release", None);
        assert_eq!(status, 200, "{list}");
        let pending: Vec<&Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "pending")
            .collect();
        if let [item] = pending.as_slice() {
            return (*item).clone();
        }
        assert!(pending.is_empty(), "{list}");
        assert!(Instant::now() < deadline, "nothing was queued: {list}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The verified count and thread of `kikv ask --format json`'s output.
fn answer(output: &Output) -> (String, String) {
    let printed = stdout(output);
    assert!(output.status.success(), "{printed}{}", stderr(output));
    let nodes: Value = serde_json::from_str(&printed).unwrap();
    let result = &nodes[0]["resultset"][0]["result"];
    let count = result["results"]["bindings"][0]["aantal_medewerkers"]["value"]
        .as_str()
        .unwrap();
    (
        count.to_owned(),
        nodes[0]["thread_id"].as_str().unwrap().to_owned(),
    )
}

fn approve(setup: &Setup, id: &str) {
    let output = run_in(
        &setup.pki,
        &["release", "approve", id, "--operator", "alice"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The `kikv ask --collect …` command `kikv ask` printed on standard error, as arguments.
fn printed_collect_command(error: &str) -> Vec<String> {
    let line = error
        .lines()
        .find_map(|l| l.strip_prefix("kikv: collect it later with: "))
        .unwrap_or_else(|| panic!("no collect command in: {error}"));
    // The test's paths hold no characters that need quoting.
    assert!(!line.contains('\''), "{line}");
    let words: Vec<String> = line.split(' ').map(str::to_owned).collect();
    assert_eq!(words[..3], ["kikv", "ask", "--collect"], "{line}");
    words
}

fn run_printed(words: &[String]) -> Output {
    common::kikv().args(&words[1..]).output().unwrap()
}

/// The row of item `id` in `kikv release list`.
fn listed(setup: &Setup, id: &str) -> String {
    let output = run_in(&setup.pki, &["release", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.lines().next().unwrap().contains("ANSWER"), "{table}");
    table
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{id} not in {table}"))
        .to_owned()
}

#[test]
fn ask_polls_while_the_operator_decides_and_prints_the_verified_answer() {
    let setup = Setup::new("deadline_hours = 1", 0);
    let node = RunningNode::start(&setup.pki);
    let asking = ask(&setup, &node, &["--wait", "300"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let item = first_pending(&setup);
    let id = item["id"].as_str().unwrap();
    assert_eq!(item["delivery"], Value::Null);
    assert!(listed(&setup, id).contains(" - "), "{}", listed(&setup, id));
    approve(&setup, id);
    let output = asking.wait_with_output().unwrap();
    let (count, thread) = answer(&output);
    assert_eq!(count, EXPECTED);
    assert_eq!(thread, item["thread_id"].as_str().unwrap());

    let (status, shown) = setup.admin("GET", &format!("/admin/release/{id}"), None);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["delivery"], "collected", "{shown}");
    assert!(shown["handed_off_at"].is_string(), "{shown}");
    assert!(
        listed(&setup, id).contains(" collected "),
        "{}",
        listed(&setup, id)
    );
    assert_eq!(activities(&setup.log(&thread)), RELEASED_AND_DELIVERED);
}

#[test]
fn a_short_wait_prints_the_collect_command_that_collects_once_after_approval() {
    let setup = Setup::new("deadline_hours = 1", 0);
    let node = RunningNode::start(&setup.pki);
    let output = ask(&setup, &node, &["--wait", "1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stdout(&output), "[]\n");
    let error = stderr(&output);
    let item = first_pending(&setup);
    let (id, thread) = (
        item["id"].as_str().unwrap(),
        item["thread_id"].as_str().unwrap(),
    );
    assert!(
        error.contains(&format!(
            "the node holds conversation {thread} for release by its operator; no decision within 1 s"
        )),
        "{error}"
    );
    assert!(
        error.ends_with("kikv: error: 1 of 1 node(s) gave no verified answer (1 held for release)"),
        "{error}"
    );
    let command = printed_collect_command(&error);
    assert_eq!(command[3], thread);
    assert!(command.ends_with(&["--format".to_owned(), "json".to_owned()]));

    // Collected before the decision: still held, and the command is printed again.
    let mut early = command.clone();
    early.extend(["--wait".to_owned(), "0".to_owned()]);
    let output = run_printed(&early);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(printed_collect_command(&stderr(&output)), command);

    approve(&setup, id);
    assert!(
        listed(&setup, id).contains(" awaiting collection "),
        "{}",
        listed(&setup, id)
    );
    let output = run_printed(&command);
    let (count, collected_thread) = answer(&output);
    assert_eq!(
        (count.as_str(), collected_thread.as_str()),
        (EXPECTED, thread)
    );
    assert!(
        listed(&setup, id).contains(" collected "),
        "{}",
        listed(&setup, id)
    );

    // Handed out once: a second collect is refused by the node.
    let output = run_printed(&command);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!(
            "refused with 410: the answer of conversation {thread} was already delivered"
        )),
        "{}",
        stderr(&output)
    );
    // One node per conversation.
    let mut two = command.clone();
    two.extend(["--node".to_owned(), "https://localhost:1".to_owned()]);
    let output = run_printed(&two);
    assert_eq!(
        stderr(&output),
        "kikv: error: --collect takes one --node: a conversation belongs to one node"
    );
}

#[test]
fn a_collected_answer_changed_on_the_nodes_disk_is_refused() {
    let setup = Setup::new("deadline_hours = 1", 0);
    let mut node = RunningNode::start(&setup.pki);
    let output = ask(&setup, &node, &["--wait", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let command = printed_collect_command(&stderr(&output));
    let id = first_pending(&setup)["id"].as_str().unwrap().to_owned();
    approve(&setup, &id);
    common::stop_gracefully(&mut node);

    // The kept answer says 3 people instead of 2; its signature is left as it was.
    let file = setup.pki.join(format!("data/release/{id}.json"));
    let mut item: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let body = BASE64
        .decode(item["outcome"]["body"].as_str().unwrap())
        .unwrap();
    let mut reply: Value = serde_json::from_slice(&body).unwrap();
    let count = &mut reply["payload"]["body"]["message"]["resultset"][0]["result"]["results"]
        ["bindings"][0]["aantal_medewerkers"]["value"];
    assert_eq!(*count, EXPECTED);
    *count = Value::from("3");
    item["outcome"]["body"] = Value::from(BASE64.encode(serde_json::to_vec(&reply).unwrap()));
    std::fs::write(&file, serde_json::to_vec_pretty(&item).unwrap()).unwrap();

    let node = RunningNode::start(&setup.pki);
    // The new node listens on another port.
    let mut command = command;
    let at = command.iter().position(|w| w == "--node").unwrap() + 1;
    command[at] = format!("https://localhost:{}", node.address.port());
    let output = run_printed(&command);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "[]\n");
    let error = stderr(&output);
    assert!(
        error.contains("the answer's signature does not verify"),
        "{error}"
    );
    assert!(!error.contains("\"3\""), "{error}");
}
