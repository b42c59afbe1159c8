"""HTTP endpoints, one module per API area."""
