"""Background jobs of the knowledge domain."""
