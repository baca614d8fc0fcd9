"""The outside world: Telegram, HTTP API, Kafka processes and external service clients."""
