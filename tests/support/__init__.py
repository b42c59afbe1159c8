"""Test servers and fixtures for the secret stores (HashiCorp Vault KV v2 test server, moto_server)."""
