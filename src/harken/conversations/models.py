"""Tables of the conversations domain."""
