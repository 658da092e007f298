//! The service's Prometheus metrics (prometheus-client): requests by route and status,
//! assessment latency, quality-gate rejections, queue depth.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route (`/v1/assess`, ...), never the raw path.
    pub route: String,
    /// The HTTP status answered.
    pub status: u16,
}

/// The metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds from an assessment request's arrival to its answer.
    pub latency: Histogram,
    /// Radiographs the quality gate rejected.
    pub rejections: Counter,
    /// Jobs waiting for a worker.
    pub queue_depth: Gauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("boneage");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "HTTP requests answered", requests.clone());
        let latency = Histogram::new([0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]);
        registry.register(
            "assess_duration_seconds",
            "Seconds from an assessment request's arrival to its answer",
            latency.clone(),
        );
        let rejections = Counter::default();
        registry.register(
            "rejections",
            "Radiographs the quality gate rejected (no bone age)",
            rejections.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Assessments waiting for a worker",
            queue_depth.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            rejections,
            queue_depth,
        }
    }

    /// Counts one answered request.
    pub fn count(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
