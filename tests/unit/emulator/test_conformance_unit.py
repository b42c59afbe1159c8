"""The conformance checker on hand-made exchanges: it passes good ones and names what is wrong in bad ones."""
from __future__ import annotations

import copy
import json

import pytest

from ksef_emulator.conformance import (
    ContractChecker,
    check_capture,
    is_rfc3339_date_time,
    main,
    to_json_schema,
)

REF = "20251010-EC-1DCE3E3000-12ECB5B36E-45"
NOW = "2025-10-10T10:00:00.1234567+00:00"


@pytest.fixture(scope="module")
def checker():
    return ContractChecker.from_file()


def exchange(method, path, status, body=None, *, content_type="application/json", headers=None,
             request_headers=None, template=None):
    response_headers = {"content-type": content_type} if body is not None else {}
    response_headers.update(headers or {})
    return {"method": method, "path": path, "status": status, "template": template,
            "request_headers": request_headers or {}, "response_headers": response_headers, "body": body}


GOOD = {
    "token created": exchange("POST", "/v2/tokens", 202,
                              {"referenceNumber": REF, "token": REF + "|nip-5265877635|" + "x" * 64},
                              template="/v2/tokens"),
    "challenge": exchange("POST", "/v2/auth/challenge", 200,
                          {"challenge": "20251010-CR-1234567890-ABCDEF1234-01", "timestamp": NOW,
                           "timestampMs": 1760090400123, "clientIp": "127.0.0.1"}),
    "token revoked": exchange("DELETE", f"/v2/tokens/{REF}", 204, template="/v2/tokens/{referenceNumber}"),
    "exception (nullable fields)": exchange("POST", "/v2/tokens", 400, {"exception": {
        "exceptionDetailList": [{"exceptionCode": 21405, "exceptionDescription": "Błąd walidacji danych wejściowych.",
                                 "details": None}],
        "referenceNumber": None, "serviceCode": None, "serviceCtx": "srvEMU", "serviceName": None,
        "timestamp": NOW}}),
    "unauthorized": exchange("GET", "/v2/tokens", 401, {
        "title": "Unauthorized", "status": 401, "detail": "Wymagane jest uwierzytelnienie.", "timestamp": NOW},
        content_type="application/problem+json"),
    "429 json": exchange("GET", "/v2/tokens", 429, {
        "status": {"code": 429, "description": "Too Many Requests", "details": ["Przekroczono limit."]}},
        headers={"retry-after": "2"}),
    "429 problem": exchange("POST", "/v2/auth/challenge", 429, {
        "title": "Too Many Requests", "status": 429, "instance": "/v2/auth/challenge", "detail": "Przekroczono limit.",
        "timestamp": NOW, "traceId": "abc"}, content_type="application/problem+json; charset=utf-8",
        headers={"retry-after": "1"}, request_headers={"x-error-format": "problem-details"}),
    "emulator control API is not checked": exchange("POST", "/_emulator/tokens", 201, {"anything": 1}),
    "injected fault is not checked": dict(exchange("GET", "/v2/tokens", 500, {"exception": None}),
                                          injected_fault="error"),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_good_exchanges_have_no_problems(checker, name):
    assert checker.check_exchange(GOOD[name]) == []


def bad(name, change):
    record = copy.deepcopy(GOOD[name])
    change(record)
    return record


BAD = {
    "undocumented status": (bad("token created", lambda r: r.update(status=201)), "status 201 is not documented"),
    "missing required field": (bad("token created", lambda r: r["body"].pop("token")), "'token' is a required property"),
    "wrong type": (bad("challenge", lambda r: r["body"].update(timestampMs="1760090400123")),
                   "$.timestampMs: '1760090400123' is not of type 'integer'"),
    "too long (maxLength)": (bad("token created", lambda r: r["body"].update(token="x" * 161)), "is too long"),
    "naive date-time": (bad("challenge", lambda r: r["body"].update(timestamp="2025-10-10T10:00:00")),
                        "is not a 'date-time'"),
    "null where not nullable": (bad("challenge", lambda r: r["body"].update(clientIp=None)),
                                "None is not of type 'string'"),
    "wrong type inside a nullable allOf": (
        bad("exception (nullable fields)", lambda r: r["body"]["exception"].update(timestamp=5)),
        "$.exception.timestamp: 5 is not of type 'string'"),
    "missing Retry-After": (bad("429 json", lambda r: r["response_headers"].pop("retry-after")),
                            "required header Retry-After is missing"),
    "Retry-After not an integer": (bad("429 json", lambda r: r["response_headers"].update({"retry-after": "soon"})),
                                   "header Retry-After='soon'"),
    "undocumented content type": (bad("unauthorized", lambda r: r["response_headers"].update(
        {"content-type": "application/json"})), "content type application/json is not documented for 401"),
    "body on 204": (bad("token revoked", lambda r: r.update(body={"ok": True}, response_headers={
        "content-type": "application/json"})), "documents no body for 204"),
    "missing body": (bad("challenge", lambda r: r.update(body=None)), "empty body"),
    "problem+json without asking": (bad("429 problem", lambda r: r.update(request_headers={})),
                                    "X-Error-Format (absent) but the response is application/problem+json"),
    "json when problem-details was asked": (bad("429 json", lambda r: r.update(
        request_headers={"x-error-format": "problem-details"})), "but the response is application/json"),
    "a real 500": (exchange("GET", "/v2/tokens", 500, {"exception": None}), "status 500 is not documented"),
    "undocumented method": (exchange("PUT", "/v2/tokens", 200, {}), "undocumented operation (path /tokens has no PUT)"),
    "undocumented path": (exchange("GET", "/v2/nothing-here", 404, {}), "undocumented operation (no documented path"),
    "routed to another template": (bad("token revoked", lambda r: r.update(template="/v2/tokens/{id:str}/x")),
                                   "routed to /tokens/{id}/x but the contract matches /tokens/{referenceNumber}"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_exchanges_are_reported(checker, name):
    record, expected = BAD[name]
    problems = checker.check_exchange(record)
    assert problems, f"{name}: no problem reported"
    assert any(expected in p for p in problems), problems


def test_literal_paths_win_over_parameters(checker):
    assert checker.match("GET", "/auth/sessions") == ("/auth/sessions", True)
    assert checker.match("GET", f"/auth/{REF}") == ("/auth/{referenceNumber}", True)
    assert checker.match("GET", f"/sessions/{REF}/invoices/failed") == (
        "/sessions/{referenceNumber}/invoices/failed", True)


def test_nullable_conversion():
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert to_json_schema({"type": "string", "enum": ["A"], "nullable": True}) == {
        "type": ["string", "null"], "enum": ["A", None]}
    assert to_json_schema({"allOf": [{"$ref": "#/x"}], "nullable": True}) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/x"}]}]}
    assert to_json_schema({"type": "object", "properties": {"nullable": {"type": "boolean"}}}) == {
        "type": "object", "properties": {"nullable": {"type": "boolean"}}}


@pytest.mark.parametrize("value,valid", [
    ("2025-07-11T12:23:56.0154302+00:00", True),
    ("2025-07-11T12:23:56Z", True),
    ("2025-07-11T12:23:56.123+02:00", True),
    ("2025-07-11T12:23:56", False),
    ("2025-02-30T12:23:56Z", False),
    ("2025-07-11 12:23:56Z", False),
    ("yesterday", False),
])
def test_date_time_format(value, valid):
    assert is_rfc3339_date_time(value) is valid


def test_exception_timestamp_may_omit_the_offset_as_the_contract_example_does(checker):
    record = copy.deepcopy(GOOD["exception (nullable fields)"])
    record["body"]["exception"]["timestamp"] = "2025-10-11T12:23:56.0154302"
    assert checker.check_exchange(record) == []
    record["body"]["exception"]["timestamp"] = "2025-10-11 12:23"
    assert checker.check_exchange(record) != []


def test_check_capture_reads_a_file_and_names_the_line(tmp_path, capsys):
    capture = tmp_path / "capture-sample.jsonl"
    lines = [GOOD["token created"], BAD["missing required field"][0], GOOD["token revoked"]]
    capture.write_text("\n".join(json.dumps(r) for r in lines) + "\nnot json\n", encoding="utf-8")
    problems = check_capture(capture)
    assert len(problems) == 2
    assert problems[0].startswith("capture-sample.jsonl:2: POST /v2/tokens -> 202")
    assert problems[1].startswith("capture-sample.jsonl:4: not a JSON line")
    assert main([str(capture)]) == 1
    assert "4 exchanges, 2 problems" in capsys.readouterr().err
