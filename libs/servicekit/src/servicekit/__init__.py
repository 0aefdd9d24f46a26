"""The service kit: the plumbing every ConnectFlo service is assembled from (settings, Kafka
consuming and publishing, the delivery rule, MongoDB, dead letters, telemetry, metrics, logs,
health and readiness, serve()). Domain logic never comes here; no service is imported here."""
