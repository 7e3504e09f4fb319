//! Headless Chromium from Debian's packages, driven through chromedriver's W3C WebDriver
//! endpoints on loopback (plain HTTP with JSON bodies): just the few commands the console test
//! needs.

#![allow(clippy::panic, clippy::unwrap_in_result, dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::request;

/// The key W3C WebDriver uses for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// Keys as WebDriver encodes them.
pub const TAB: &str = "\u{E004}";
/// Enter.
pub const ENTER: &str = "\u{E007}";
/// Escape.
pub const ESCAPE: &str = "\u{E00C}";

/// Where the browser and its driver are, when both are installed.
pub fn find_browser() -> Option<(PathBuf, PathBuf)> {
    let which = |name: &str| {
        let output = Command::new("which").arg(name).output().ok()?;
        let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        (output.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    };
    Some((which("chromium")?, which("chromedriver")?))
}

/// A chromedriver process with one headless browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session with a
    /// laptop-sized window.
    pub fn start(chromium: &std::path::Path, chromedriver: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut browser = Self {
            driver,
            address,
            session: String::new(),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(address).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1366,768"],
            },
        }}});
        let session = browser.call("POST", "/session", Some(capabilities));
        browser.session = session["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// One WebDriver command; its `value`. A WebDriver error fails the test with its message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let headers = [("content-type", "application/json")];
        let (status, _, reply) = request(self.address, method, path, &headers, body);
        let reply: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
        assert_eq!(status, 200, "WebDriver {method} {path}: {reply}");
        reply["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Loads `url`.
    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Reloads the page and waits for it to load.
    pub fn refresh(&self) {
        self.session_call("POST", "/refresh", Some(json!({})));
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub fn run(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The elements matching a CSS selector now.
    pub fn find_all(&self, selector: &str) -> Vec<String> {
        let found = self.session_call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": selector })),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits for the first element matching `selector` whose text satisfies `ready`; its id.
    pub fn wait_for(&self, selector: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            for element in self.find_all(selector) {
                if ready(&self.text(&element)) {
                    return element;
                }
            }
            if started.elapsed() > PATIENCE {
                let texts: Vec<String> = self
                    .find_all(selector)
                    .iter()
                    .map(|e| self.text(e))
                    .collect();
                let page = self.run("return document.body.innerText;");
                panic!("no {selector} as expected; found {texts:?}; page: {page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `selector` matches something; its first element.
    pub fn wait(&self, selector: &str) -> String {
        self.wait_for(selector, |_| true)
    }

    /// The rendered text of an element.
    pub fn text(&self, element: &str) -> String {
        self.session_call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks an element.
    pub fn click(&self, element: &str) {
        self.session_call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Types `text` (which may hold the key constants) into an element.
    pub fn type_into(&self, element: &str, text: &str) {
        self.session_call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Presses keys wherever the focus is, as a keyboard user does.
    pub fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// The id attribute of the focused element, or its text when it has none.
    pub fn focused(&self) -> String {
        self.run(
            "const e = document.activeElement; return e ? (e.id || e.textContent.trim()) : '';",
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = request(self.address, "DELETE", &path, &[], None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
