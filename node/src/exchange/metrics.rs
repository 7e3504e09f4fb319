//! Prometheus metrics of the exchange, served as `GET /metrics` in the text exposition format:
//! requests by outcome and reason, query time, and exchange-log appends.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered in the HTTP response.
    Answered,
    /// Accepted for asynchronous delivery (`202`).
    Accepted,
    /// Waiting in the manual release queue.
    Queued,
    /// Refused; the reason is recorded beside it.
    Rejected,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Accepted => "accepted",
            Self::Queued => "queued",
            Self::Rejected => "rejected",
        }
    }
}

/// The node's metrics in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    query_seconds: Histogram,
    audit_appends: IntCounterVec,
    tokens: IntCounterVec,
    release_pending: IntGauge,
    audit_writable: IntGauge,
    audit_write_failures: IntGauge,
}

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Metrics {
    /// A fresh set of metrics, registered in a registry of its own.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "kikv_exchange_requests_total",
                "Exchange requests by outcome and reason code",
            ),
            &["outcome", "reason"],
        )?;
        let query_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "kikv_query_duration_seconds",
                "Time spent executing exchange queries (cache misses only)",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        let audit_appends = IntCounterVec::new(
            Opts::new(
                "kikv_audit_appends_total",
                "Entries appended to the exchange log, by activity",
            ),
            &["activity"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(query_seconds.clone()))?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "kikv_token_requests_total",
                "Access-token requests (POST /oauth2/token) by outcome and OAuth error",
            ),
            &["outcome", "error"],
        )?;
        registry.register(Box::new(audit_appends.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        let release_pending = IntGauge::new(
            "kikv_release_pending",
            "Requests waiting in the manual release queue for the operator's decision",
        )?;
        registry.register(Box::new(release_pending.clone()))?;
        let audit_writable = IntGauge::new(
            "kikv_audit_writable",
            "1 while the exchange log can be written, 0 while its writes fail",
        )?;
        let audit_write_failures = IntGauge::new(
            "kikv_audit_write_failures",
            "Writes to the exchange log (entry batches, checkpoints) that failed since start-up",
        )?;
        registry.register(Box::new(audit_writable.clone()))?;
        registry.register(Box::new(audit_write_failures.clone()))?;
        Ok(Self {
            registry,
            requests,
            query_seconds,
            audit_appends,
            tokens,
            release_pending,
            audit_writable,
            audit_write_failures,
        })
    }

    /// The metrics of this process, made on first use; `None` only if prometheus refused
    /// the constant definitions above, in which case the node runs without metrics.
    pub fn global() -> Option<&'static Metrics> {
        static GLOBAL: OnceLock<Option<Metrics>> = OnceLock::new();
        GLOBAL.get_or_init(|| Metrics::new().ok()).as_ref()
    }

    /// Counts one request that ended with `outcome`; `reason` is the reason code of a refusal
    /// (empty otherwise).
    pub fn request(&self, outcome: Outcome, reason: &str) {
        self.requests
            .with_label_values(&[outcome.as_str(), reason])
            .inc();
    }

    /// Records one query execution's duration.
    pub fn query_time(&self, elapsed: Duration) {
        self.query_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts one exchange-log append of `activity`.
    pub fn audit_append(&self, activity: &str) {
        self.audit_appends.with_label_values(&[activity]).inc();
    }

    /// Counts one access-token request: `issued`, or `refused` with its OAuth `error` code.
    pub fn token(&self, outcome: &str, error: &str) {
        self.tokens.with_label_values(&[outcome, error]).inc();
    }

    /// Sets the number of requests waiting for release.
    pub fn release_pending(&self, pending: usize) {
        self.release_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Sets the exchange log's write health.
    pub fn audit_health(&self, health: &crate::audit::LogHealth) {
        self.audit_writable.set(i64::from(health.problem.is_none()));
        self.audit_write_failures
            .set(i64::try_from(health.failures).unwrap_or(i64::MAX));
    }

    /// Everything in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only on metric names the registry already refused.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The `GET /metrics` handler: the process's metrics with their content type.
pub async fn endpoint() -> ([(&'static str, &'static str); 1], String) {
    let text = Metrics::global().map(Metrics::render).unwrap_or_default();
    ([("content-type", CONTENT_TYPE)], text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let metrics = Metrics::new().unwrap();
        metrics.request(Outcome::Answered, "");
        metrics.request(Outcome::Rejected, "query_not_in_profile");
        metrics.request(Outcome::Rejected, "query_not_in_profile");
        metrics.query_time(Duration::from_millis(30));
        metrics.audit_append("received");
        metrics.token("refused", "invalid_grant");
        metrics.release_pending(3);
        let text = metrics.render();
        assert!(text.contains("kikv_release_pending 3"), "{text}");
        assert!(
            text.contains(
                "kikv_exchange_requests_total{outcome=\"rejected\",reason=\"query_not_in_profile\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("kikv_exchange_requests_total{outcome=\"answered\",reason=\"\"} 1"));
        assert!(text.contains("kikv_query_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("kikv_query_duration_seconds_count 1"));
        assert!(text.contains("kikv_audit_appends_total{activity=\"received\"} 1"));
        assert!(text
            .contains("kikv_token_requests_total{error=\"invalid_grant\",outcome=\"refused\"} 1"));
    }

    #[test]
    fn the_endpoint_serves_the_process_metrics_as_text() {
        let global = Metrics::global().unwrap();
        global.request(Outcome::Rejected, "envelope_expired");
        let (headers, body) = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(endpoint());
        assert_eq!(headers, [("content-type", CONTENT_TYPE)]);
        assert!(body.contains("reason=\"envelope_expired\""), "{body}");
    }
}
