"""The event backbone: CloudEvents envelope, transactional outbox, idempotent inbox, replay."""
