"""Test servers and fixtures for the secret stores (a real OpenBao server and a proxy in front of it, moto_server)."""
