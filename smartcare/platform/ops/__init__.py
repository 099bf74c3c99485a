"""Operating a deployment: `smartcare check`, readiness, structured logs with request ids, Prometheus metrics."""
