"""The durable runtime: drives the pure engine (executor.domain) from Kafka commands and keeps
its state in MongoDB. ``step`` is pure (state in, state and outbox out); ``service`` does
the I/O."""
