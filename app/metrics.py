"""Prometheus metrics at /metrics (admin scope): request counts, latency histograms and
in-flight requests per route template (`group_path`: one series per route, not per document
id), from Litestar's Prometheus plugin."""

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from app.security.auth import requires

PROMETHEUS = PrometheusConfig(
    app_name="enclave",
    prefix="enclave",
    group_path=True,
    exclude=[r"^/metrics$", r"^/static/"],
)


class MetricsController(PrometheusController):
    path = "/metrics"
    guards = [requires("admin")]
    # For Prometheus scrapers, not API clients: text exposition format, kept out of the
    # OpenAPI schema (so tests/app/test_schemathesis.py does not see it).
    include_in_schema = False
