"""Store tests: real files, a real OpenBao server over HTTP (and HTTPS), a real moto_server over HTTP.

The servers' fixtures (vault_server, moto_server, aws_endpoint) come from tests/support/fixtures.py,
registered once for the whole suite in tests/conftest.py.
"""
