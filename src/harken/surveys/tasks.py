"""Background jobs of the surveys domain."""
