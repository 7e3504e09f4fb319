//! The admin listener bound away from loopback, through the real `kikv` binary: it speaks TLS
//! with the node's certificate, and signs in an operator by a token from `kikv operator add`
//! or by a client certificate from the operators' own authority, never by a consumer's
//! certificate. Decisions are logged under the signed-in operator. The listener is bound to
//! this machine's non-loopback address (its default route's interface) when it has one.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use crate::support::common;
use crate::support::release as release_support;

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use common::{https_request, run_in, stderr, stdout, ClientIdentity, Pem, RunningNode};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use release_support::{entry, identity, post, read, Setup, EXPECTED};
use serde_json::{json, Value};

/// An address of this machine that is not loopback: the interface of its default route (a UDP
/// "connect" sends nothing). Without one, the unspecified address, which is not loopback
/// either and is reached through 127.0.0.1.
fn non_loopback_ip() -> IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let found = socket
        .connect("198.51.100.1:9")
        .and_then(|()| socket.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    found.unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// A certificate authority of `name`, written to `file`, and its issuer.
fn authority(dir: &Path, file: &str, name: &str) -> Issuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(file), cert.pem()).unwrap();
    Issuer::new(params, key)
}

/// A client certificate for `name` from `issuer`, written as `{file}.crt.pem` and `.key.pem`.
fn operator_certificate(dir: &Path, file: &str, name: &str, issuer: &Issuer<'_, KeyPair>) -> Pem {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{file}.crt.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.key.pem")), key.serialize_pem()).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// The node of `setup` with its admin listener on `ip`, a node certificate naming that address
/// and `localhost`, and `anchors` (TOML array text) as operator trust anchors.
fn bind_admin_elsewhere(setup: &Setup, ip: IpAddr, anchors: &str) {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    release_support::replace_node_certificate(&setup.pki, &names);
    let config = read(&setup.pki, "kikv.toml").replace(
        "admin_address = \"127.0.0.1:0\"",
        &format!("admin_address = \"{}\"", SocketAddr::new(ip, 0)),
    );
    let config = format!("{config}\n[admin]\noperator_trust_anchors = {anchors}\n");
    std::fs::write(setup.pki.join("kikv.toml"), config).unwrap();
}

/// The running node's admin ticket.
fn ticket(setup: &Setup) -> Value {
    serde_json::from_str(&read(&setup.pki, "data/admin.token")).unwrap()
}

/// A call to the admin listener at `address` over TLS as `who` with `token` (or none).
fn admin(
    address: SocketAddr,
    setup: &Setup,
    who: ClientIdentity<'_>,
    token: Option<&str>,
    request: (&str, &str, Option<Value>),
) -> Result<(u16, Value), String> {
    release_support::admin_over_tls(address, &setup.ca, who, token, request)
}

/// `kikv release ARGS --admin-url URL --admin-ca dev-ca.crt.pem` run on "another machine":
/// a directory without the node's data, with `token` in KIKV_OPERATOR_TOKEN.
fn remote_release(
    setup: &Setup,
    url: &str,
    token: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let elsewhere = tempfile::tempdir().unwrap();
    let ca = setup.pki.join("dev-ca.crt.pem");
    let mut command = common::kikv();
    command
        .current_dir(elsewhere.path())
        .env_remove("KIKV_OPERATOR_TOKEN")
        .arg("release")
        .args(args)
        .args(["--admin-url", url, "--admin-ca"])
        .arg(&ca);
    if let Some(token) = token {
        command.env("KIKV_OPERATOR_TOKEN", token);
    }
    command.output().unwrap()
}

#[test]
fn operators_sign_in_from_another_machine_by_token_or_certificate() {
    let setup = Setup::new("deadline_hours = 1", 0);
    let ip = non_loopback_ip();
    let _ = writeln!(std::io::stderr(), "admin listener bound to {ip}");
    let operators = authority(&setup.pki, "operator-ca.crt.pem", "Zorggroep beheerders CA");
    let anna = operator_certificate(&setup.pki, "anna", "Anna de Vries", &operators);
    let rogue = authority(&setup.pki, "rogue-ca.crt.pem", "Rogue CA");
    let mallory = operator_certificate(&setup.pki, "mallory", "Mallory", &rogue);
    bind_admin_elsewhere(&setup, ip, "[\"operator-ca.crt.pem\"]");
    let output = run_in(&setup.pki, &["operator", "add", "Bram Jansen"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let bram = stdout(&output).trim().to_owned();
    assert!(bram.starts_with("kikvop_"), "{bram}");

    let node = RunningNode::start(&setup.pki);
    let ticket = ticket(&setup);
    let address: SocketAddr = ticket["address"].as_str().unwrap().parse().unwrap();
    if !ip.is_unspecified() {
        assert_eq!(address.ip(), ip);
    }
    assert_eq!(
        ticket["certificate_sha256"].as_str().map(str::len),
        Some(64)
    );
    let url = format!("https://{address}");
    let get = |path| ("GET", path, None);

    // No plain HTTP: the bytes of a request get no HTTP answer.
    let mut plain = std::net::TcpStream::connect(address).unwrap();
    write!(
        plain,
        "GET /admin/release HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Over TLS: nobody, a made-up token and the node's ticket token from elsewhere.
    let none = admin(
        address,
        &setup,
        ClientIdentity::None,
        None,
        get("/admin/release"),
    )
    .unwrap();
    assert_eq!(
        none,
        (401, json!({"error": "missing or wrong admin token"}))
    );
    let made_up = format!("kikvop_{}", "0".repeat(64));
    let wrong = admin(
        address,
        &setup,
        ClientIdentity::None,
        Some(&made_up),
        get("/admin/release"),
    );
    assert_eq!(wrong.unwrap(), none);

    // Certificates: a consumer's and one from another authority are refused in the handshake.
    let consumer = identity(&setup.pki, "zorgkantoor");
    for (who, pem) in [("consumer", &consumer), ("rogue", &mallory)] {
        let refused = admin(
            address,
            &setup,
            ClientIdentity::Pem(pem),
            None,
            get("/admin/whoami"),
        );
        assert!(refused.is_err(), "{who}: {refused:?}");
    }
    let whoami = |who, token| admin(address, &setup, who, token, get("/admin/whoami")).unwrap();
    assert_eq!(
        whoami(ClientIdentity::Pem(&anna), None),
        (
            200,
            json!({"operator": "Anna de Vries", "via": "certificate"})
        )
    );
    assert_eq!(
        whoami(ClientIdentity::None, Some(&bram)),
        (200, json!({"operator": "Bram Jansen", "via": "token"}))
    );

    // Two requests wait; Bram approves one from another machine, Anna rejects the other.
    for thread in ["remote-yes", "remote-no"] {
        let (status, reply) = post(&node, &setup, &setup.envelope(thread, None));
        assert_eq!(status, 202, "{reply}");
    }
    let yes = setup.pending("remote-yes")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let no = setup.pending("remote-no")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = remote_release(
        &setup,
        &url,
        Some(&bram),
        &["approve", &yes, "--operator", "Mallory"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let key = setup.pki.join("anna.key.pem");
    let cert = setup.pki.join("anna.crt.pem");
    let output = remote_release(
        &setup,
        &url,
        None,
        &[
            "reject",
            &no,
            "--reason",
            "Geen grondslag",
            "--operator-cert",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "--operator-cert needs its key"
    );
    let mut args = vec!["reject", &no, "--reason", "Geen grondslag"];
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    args.extend(["--operator-cert", cert, "--operator-key", key]);
    let output = remote_release(&setup, &url, None, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("by Anna de Vries (thread remote-no)"),
        "{}",
        stdout(&output)
    );

    // The log names who signed in, not what the request claimed.
    assert_eq!(
        entry(&setup.log("remote-yes"), "released")["operator"],
        "Bram Jansen"
    );
    assert_eq!(
        entry(&setup.log("remote-no"), "rejected_by_operator")["operator"],
        "Anna de Vries"
    );
    let (status, answer) = setup.poll(&node, "zorgkantoor", "remote-yes");
    assert_eq!(status, 200, "{answer}");
    let document = &answer["payload"]["body"]["message"];
    assert_eq!(
        setup.verified_count(&node, document, "remote-yes"),
        EXPECTED
    );
    let (status, report) = setup.poll(&node, "zorgkantoor", "remote-no");
    assert_eq!(
        (status, &report["payload"]["body"]["reason"]),
        (422, &json!("release_refused"))
    );

    // A removed operator is refused with the next request, without a restart.
    let output = run_in(&setup.pki, &["operator", "remove", "Bram Jansen"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = remote_release(&setup, &url, Some(&bram), &["list"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output), "kikv: error: missing or wrong admin token");

    // On the node's machine the command line and the console reach it through the ticket,
    // trusting exactly the certificate it names.
    let output = run_in(&setup.pki, &["release", "list", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let states: Vec<_> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].clone())
        .collect();
    assert_eq!(states.len(), 2);
    assert!(states.iter().all(|s| s != "pending"), "{states:?}");
    let output = run_in(&setup.pki, &["console"]);
    let console = stdout(&output);
    assert!(
        console.starts_with(&format!("{url}/console/#token=")),
        "{console}"
    );
    let page = https_request(
        address,
        &setup.ca,
        ClientIdentity::None,
        ("GET", "/console/", &[], b""),
    );
    let (status, html) = page.unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&html).contains("console.js"));

    // A ticket naming another certificate is not trusted.
    let mut forged = ticket.clone();
    forged["certificate_sha256"] = json!("0".repeat(64));
    std::fs::write(setup.pki.join("data/admin.token"), forged.to_string()).unwrap();
    let output = run_in(&setup.pki, &["release", "list"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .contains("the admin listener's certificate is not the one in the node's ticket"),
        "{}",
        stderr(&output)
    );
    drop(node);
}

#[test]
fn a_consumer_authority_is_never_an_operator_authority() {
    let setup = Setup::new("deadline_hours = 1", 0);
    bind_admin_elsewhere(&setup, non_loopback_ip(), "[\"dev-ca.crt.pem\"]");
    let output = run_in(&setup.pki, &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "kikv: error: cannot set up TLS for the admin listener: dev-ca.crt.pem: an operator \
         trust anchor must not also be in tls.client_trust_anchors, or every consumer could sign \
         in as an operator"
    );
}

#[test]
fn the_remote_command_line_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = common::kikv()
            .current_dir(dir.path())
            .env_remove("KIKV_OPERATOR_TOKEN")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        stderr(&output)
    };
    assert_eq!(
        run(&["release", "list", "--admin-url", "https://192.0.2.7:8444"]),
        "kikv: error: --admin-url needs --admin-ca, the authority of the node's certificate"
    );
    authority(dir.path(), "ca.pem", "Some CA");
    let url = [
        "--admin-url",
        "https://192.0.2.7:8444",
        "--admin-ca",
        "ca.pem",
    ];
    assert_eq!(
        run(&[&["release", "list"][..], &url].concat()),
        "kikv: error: --admin-url: sign in with an operator token in KIKV_OPERATOR_TOKEN \
         (`kikv operator add` on the node) or with --operator-cert and --operator-key"
    );
    let output = common::kikv()
        .current_dir(dir.path())
        .env("KIKV_OPERATOR_TOKEN", "kikvop_x")
        .args([
            "release",
            "list",
            "--admin-url",
            "http://192.0.2.7:8444",
            "--admin-ca",
            "ca.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(
        stderr(&output),
        "kikv: error: http://192.0.2.7:8444: the admin listener of another machine is https://HOST:PORT"
    );
}

/// Off loopback, `/health` and `/metrics` need a sign-in like every admin call; and a reload
/// with a new certificate rewrites the ticket's fingerprint, so the command line on the node's
/// machine keeps reaching the listener, which presents the new certificate.
#[test]
fn off_loopback_health_needs_a_sign_in_and_a_new_certificate_keeps_the_ticket_true() {
    let setup = Setup::new("deadline_hours = 1", 0);
    let ip = non_loopback_ip();
    bind_admin_elsewhere(&setup, ip, "[]");
    let node = RunningNode::start(&setup.pki);
    let before = ticket(&setup);
    let address: SocketAddr = before["address"].as_str().unwrap().parse().unwrap();
    let token = before["token"].as_str().unwrap().to_owned();
    for path in ["/health", "/metrics"] {
        let anonymous = admin(
            address,
            &setup,
            ClientIdentity::None,
            None,
            ("GET", path, None),
        );
        assert_eq!(
            anonymous.unwrap(),
            (401, json!({"error": "missing or wrong admin token"})),
            "{path}"
        );
    }
    let health = admin(
        address,
        &setup,
        ClientIdentity::None,
        Some(&token),
        ("GET", "/health", None),
    );
    assert_eq!(health.unwrap().1["status"], "ok");

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    let new = release_support::replace_node_certificate(&setup.pki, &names);
    let output = run_in(&setup.pki, &["reload"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("(new)"), "{}", stdout(&output));
    let after = ticket(&setup);
    let der = {
        use rustls::pki_types::pem::PemObject as _;
        rustls::pki_types::CertificateDer::from_pem_slice(new.cert.as_bytes()).unwrap()
    };
    let fingerprint = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(der.as_ref()))
    };
    assert_eq!(after["certificate_sha256"], fingerprint.as_str());
    assert_eq!(after["token"], before["token"]);
    // The command line trusts the new fingerprint; the old one would no longer match.
    let output = run_in(&setup.pki, &["reload"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("(unchanged)"),
        "{}",
        stdout(&output)
    );
    drop(node);
}
