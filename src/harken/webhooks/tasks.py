"""Background jobs of the webhooks domain."""
