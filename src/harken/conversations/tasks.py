"""Background jobs of the conversations domain."""
