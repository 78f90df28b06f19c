"""Background jobs of the campaigns domain."""
