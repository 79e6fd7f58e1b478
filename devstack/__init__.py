"""Development stack: embedded PostgreSQL and Kafka-protocol broker, the launcher behind `make run`, the CLI."""
