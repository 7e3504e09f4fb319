//! The scenario files themselves: they parse, names are unique, every expectation is complete,
//! and every rejection of SPEC §4 steps 1 to 7 the issue lists is covered.

#![allow(clippy::panic, clippy::unwrap_in_result)]

use std::path::PathBuf;

use kikv_conformance::load_scenarios;

#[test]
fn the_scenarios_cover_every_listed_rejection() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let scenarios = load_scenarios(&dir).unwrap();
    assert!(scenarios.len() >= 30, "{} scenarios", scenarios.len());
    let reasons: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s.expect.reason.as_deref())
        .collect();
    for reason in [
        "client_certificate_missing",
        "token_missing",
        "token_invalid",
        "token_consumer_mismatch",
        "token_certificate_mismatch",
        "envelope_wrong_recipient",
        "envelope_expired",
        "envelope_too_large",
        "envelope_malformed",
        "envelope_wrong_type",
        "signature_invalid",
        "audience_wrong",
        "holder_not_sender",
        "presentation_replayed",
        "presentation_expired",
        "algorithm_refused",
        "issuer_not_trusted",
        "credential_expired",
        "holder_not_subject",
        "query_not_in_profile",
        "query_update",
        "query_service_not_allowed",
        "parameter_missing",
        "parameter_undeclared",
        "parameter_wrong_type",
        "parameter_out_of_range",
        "parameter_not_allowed",
        "query_timeout",
    ] {
        assert!(reasons.contains(&reason), "no scenario expects {reason}");
    }
    let refused = scenarios
        .iter()
        .filter(|s| s.expect.transport.is_some())
        .count();
    assert_eq!(refused, 2, "no client certificate, untrusted certificate");
    assert!(scenarios.iter().any(|s| s.concurrent > 1));
    assert!(scenarios.iter().any(|s| !s.meanwhile.is_empty()));
    for generation in [1, 2] {
        assert!(
            scenarios
                .iter()
                .any(|s| s.request.generation == generation && s.expect.status == Some(200)),
            "no answered scenario in generation {generation}"
        );
    }
}

#[test]
fn a_scenario_with_an_unknown_key_or_incomplete_expectation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[[scenario]]\nname = \"x\"\nchecks = \"c\"\nexpect = { status = 200, rows = [\"r.json\"] }\nrequest = { brake = \"none\" }\n", "unknown field"),
        ("[[scenario]]\nname = \"x\"\nchecks = \"c\"\nexpect = { status = 403 }\n", "a refusal needs `reason`"),
        ("[[scenario]]\nname = \"x\"\nchecks = \"c\"\nexpect = { status = 200 }\n", "a 200 needs `rows`"),
        ("[[scenario]]\nname = \"x\"\nchecks = \"c\"\nexpect = { status = 400, reason = \"r\" }\nrequest = { break = \"envelope_sideways\" }\n", "unknown variant"),
        ("[[scenario]]\nname = \"x\"\nchecks = \"c\"\nexpect = { transport = \"refused\", status = 403 }\n", "alone or with a refusal's status and reason"),
        ("[[scenario]]\nname = \"x\"\nchecks = \"c\"\nexpect = { transport = \"closed\" }\n", "alone or with a refusal's status and reason"),
    ];
    for (text, error) in cases {
        std::fs::write(dir.path().join("s.toml"), text).unwrap();
        let message = load_scenarios(dir.path()).unwrap_err().to_string();
        assert!(message.contains(error), "{message}");
    }
}
