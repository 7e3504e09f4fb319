//! `kikv demo` as a new user meets it: one command, then the printed lines work.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::console as console_support;

use common::{https_get, kikv, ClientIdentity, Pem};
use console_support::DemoNode;

#[test]
fn the_demo_serves_generated_data_over_mutual_tls() {
    let mut node = DemoNode::start();
    let address = node.address;
    let text = node.printed.join("\n");
    assert!(
        text.contains("loaded https://zorggroep-demo.example/data/provider"),
        "{text}"
    );
    let pki = node.demo_dir().join("pki");
    let read = |name: &str| std::fs::read_to_string(pki.join(name)).unwrap();
    let consumer = Pem {
        cert: read("dev-zorgkantoor.crt.pem"),
        key: read("dev-zorgkantoor.key.pem"),
    };
    let (status, catalogue) = https_get(
        address,
        &read("dev-ca.crt.pem"),
        ClientIdentity::Pem(&consumer),
        "/datacatalog",
        "text/turtle",
    )
    .unwrap();
    // The printed `kikv ask` line works as printed (with the port filled in).
    let ask_line = text
        .lines()
        .find(|l| l.contains(" ask --node "))
        .unwrap_or_else(|| panic!("no ask line in {text}"))
        .replace("localhost:PORT", &format!("localhost:{}", address.port()));
    let words: Vec<&str> = ask_line.split_whitespace().collect();
    let asked = std::process::Command::new(words[0])
        .args(&words[1..])
        .output()
        .unwrap();
    let _ = node.child.kill();
    let _ = node.child.wait();
    let answer = String::from_utf8_lossy(&asked.stdout).into_owned();
    assert!(
        asked.status.success(),
        "{answer}{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    assert!(
        answer.contains("signature and receipt verified"),
        "{answer}"
    );
    assert_eq!(status, 200);
    assert!(
        catalogue.contains("https://zorggroep-demo.example/data/provider"),
        "{catalogue}"
    );
    assert!(
        catalogue.contains("https://zorggroep-demo.example/data/reference"),
        "{catalogue}"
    );
    // The printed query line names the demo's configuration, which a user can use as it is.
    let config = node.demo_dir().join("kikv.toml");
    assert!(
        text.contains(&format!("--config {} query", config.display())),
        "{text}"
    );
    let output = kikv()
        .args(["--config", config.to_str().unwrap(), "query"])
        .arg("SELECT (COUNT(*) AS ?n) WHERE { ?c a <http://purl.org/ozo/onz-pers#ArbeidsOvereenkomst> }")
        .args(["--format", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&output.stdout).into_owned();
    let contracts: u64 = csv
        .lines()
        .nth(1)
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        contracts > 0,
        "{csv} {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
