//! The operator console in a real browser: headless Chromium from Debian's packages, driven
//! through chromedriver (W3C WebDriver) on loopback, against a real node made by `kikv demo`
//! after a real question asked with `kikv ask` over mutual TLS. The console is opened with the
//! address `kikv console` prints, used by keyboard and clicks, and each page is checked against
//! the node's own JSON.
//!
//! Without chromium and chromedriver the test fails with a clear message when `CI` is set, and
//! prints a skip notice otherwise.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::console as console_support;

use std::time::Instant;

use common::{run_in, stderr, stdout};
use console_support::webdriver::{find_browser, Browser, ENTER, ESCAPE, TAB};
use console_support::DemoNode;

/// Groups digits in threes with dots, as the Dutch locale shows counts.
fn dutch_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(digit);
    }
    out
}

/// Writes a line to standard error past the test harness's capture, so it shows in CI's log.
fn notice(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[test]
fn the_console_shows_every_page_by_keyboard_and_clicks() {
    let Some((chromium, chromedriver)) = find_browser() else {
        let message = "chromium and chromedriver are not installed (Debian packages `chromium` \
                       and `chromium-driver`; .ci/run installs them)";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        notice(&format!("skipped: {message}"));
        return;
    };
    let started = Instant::now();
    let node = DemoNode::start();
    let receipt_index = node.ask();
    let browser = Browser::start(&chromium, &chromedriver);
    let base = format!("http://{}/console/", node.admin);

    // Without a token: a clear page saying how to get one.
    browser.open(&base);
    browser.wait_for("#title", |t| t == "Niet aangemeld");
    browser.wait_for("#signin-reason", |t| t.contains("kikv console"));

    // A wrong token is refused as soon as a page asks for data (the release queue, first).
    browser.open(&format!("{base}#token=0123456789abcdef"));
    browser.wait_for("#title", |t| t == "Token geweigerd");

    // The address `kikv console` prints; the token leaves the address bar.
    let output = run_in(&node.demo_dir(), &["--config", "kikv.toml", "console"]);
    assert!(output.status.success(), "{}", stderr(&output));
    browser.open(stdout(&output).trim());
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    let address = browser.run("return location.href;");
    assert_eq!(address.as_str(), Some(format!("{base}#/release").as_str()));
    let kept = browser.run("return sessionStorage.getItem('kikv.console.token');");
    assert_eq!(kept.as_str(), Some(node.token.as_str()));
    // The queue, empty here: the demo profile releases automatically (the approve and reject
    // flow is in tests/exchange/release.rs).
    browser.wait_for("#view", |t| t.contains("Geen verzoeken"));

    // Keyboard only: after a reload (the token stays for the tab's session) Tab from the top
    // of the page reaches the menu in order, and Enter follows a link.
    browser.refresh();
    browser.wait_for("#title", |t| t == "Vrijgave van antwoorden");
    browser.press(TAB);
    assert_eq!(browser.focused(), "Vrijgave");
    browser.press(&format!("{TAB}{TAB}"));
    assert_eq!(browser.focused(), "Logboek");
    browser.press(ENTER);
    let status = node.admin_json("/admin/audit/status");
    let entries = status["entries"].as_u64().unwrap();
    browser.wait_for("#log-state", |t| t.starts_with("Intact"));
    browser.wait_for("#log-entries", |t| {
        t.parse::<u64>().is_ok_and(|shown| shown >= entries)
    });

    // Datasets, by click: every dataset with its triple count as the node reports it.
    browser.click(&browser.wait("#nav a[data-page=datasets]"));
    browser.wait("#datasets");
    for dataset in node.admin_json("/admin/datasets").as_array().unwrap() {
        let iri = dataset["iri"].as_str().unwrap();
        let row = browser.wait(&format!("#datasets tr[data-iri='{iri}']"));
        let text = browser.text(&row);
        assert!(
            text.contains(dataset["physical_graph"].as_str().unwrap()),
            "{text}"
        );
        assert!(
            text.contains(&dutch_count(dataset["triples"].as_u64().unwrap())),
            "{text}"
        );
    }

    // Profiles: one section per registered profile, with its release mode.
    browser.click(&browser.wait("#nav a[data-page=profiles]"));
    browser.wait("section.profile");
    let profiles = node.admin_json("/admin/profiles")["profiles"].clone();
    let profiles = profiles.as_array().unwrap();
    assert_eq!(browser.find_all("section.profile").len(), profiles.len());
    let demo =
        browser.wait("section.profile[data-iri='https://kik-v.example/profiles/demo'] .release");
    assert_eq!(browser.text(&demo), "automatisch");

    // Conversations: the consumer's thread, its entries, the receipt and an entry's content.
    browser.click(&browser.wait("#nav a[data-page=conversations]"));
    let link = browser.wait("#threads td a");
    browser.click(&link);
    browser.wait("#entries");
    let executed = browser.wait(&format!("#entries tr[data-index='{receipt_index}']"));
    assert!(browser.text(&executed).contains("executed"));
    browser.wait_for("#receipt", |t| {
        t.contains(&format!("Logregel\n{receipt_index}"))
    });
    let show = browser.wait(&format!(
        "#entries tr[data-index='{receipt_index}'] button.show-content"
    ));
    browser.click(&show);
    browser.wait_for("#content-body", |t| t.contains("resultset"));
    assert_eq!(
        browser.run("return document.getElementById('content-dialog').open;"),
        true
    );
    browser.press(ESCAPE);
    assert_eq!(
        browser.run("return document.getElementById('content-dialog').open;"),
        false
    );
    assert_eq!(browser.focused(), "Inhoud tonen");

    // English, remembered across a reload.
    browser.click(&browser.wait("#lang"));
    browser.wait_for("#title", |t| t == "Conversations");
    browser.refresh();
    browser.wait_for("#nav a[data-page=log]", |t| t == "Log");
    browser.wait_for("#title", |t| t == "Conversations");

    notice(&format!(
        "console browser test: {:.1} s (node start, one question, five pages)",
        started.elapsed().as_secs_f64()
    ));
}
