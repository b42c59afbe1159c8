"""Every /permissions operation of the contract has a route, and the limiter finds its own x-rate-limits."""
from __future__ import annotations

from ksef_emulator.app import build_app
from ksef_emulator.contract import contract, rate_limit_group, rate_limits
from ksef_emulator.settings import Settings


def permission_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in contract()["paths"].items() if path.startswith("/permissions")
            for method in ops if method in ("get", "post", "put", "delete", "patch")}


def test_every_permission_operation_is_routed(tmp_path):
    _app, state = build_app(Settings(state_dir=tmp_path))
    try:
        routed = {(method, route.path.removeprefix("/v2")) for route in _app.app.app.routes  # RawSendKeeper, Pipeline
                  for method in (route.methods or ()) if route.path.startswith("/v2/permissions")}
        assert permission_operations() - routed == set()
        assert len(permission_operations()) == 19
    finally:
        state.store.close()


def test_every_permission_operation_has_its_own_contract_limits():
    for method, path in permission_operations():
        operation = f"{method} {path}"
        declared = contract()["paths"][path][method.lower()]["x-rate-limits"]
        assert rate_limits(operation) == declared, operation
        assert rate_limit_group(operation) == "other", operation
