"""Check captured exchanges (see capture.py) against the OpenAPI contract the emulator follows.

By default that is contract.contract(): the bundled official open-api.json with the newer changes contract.py
applies; `--contract` checks against another file as it is.

For every /v2 exchange: the operation must exist in open-api.json, the status must be one of its
documented responses, the content type one documented for that status (none for 204), the body
valid against the response schema, and required headers present (`Retry-After` on 429).

open-api.json is OpenAPI 3.0: its schemas are turned into JSON Schema 2020-12 (`nullable`
becomes a "null" alternative) and validated with `jsonschema` through a `referencing` registry,
with format checkers for date-time (RFC 3339, offset required), date, int32, int64 and byte.

Run it by hand: python -m ksef_emulator.conformance tests/output/capture-*.jsonl
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import json
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .contract import contract as followed_contract

CONTRACT_URI = "urn:ksef:open-api"
API_PREFIX = "/v2"
UNCHECKED_PREFIXES = ("/_emulator",)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Headers the documentation requires even where open-api.json does not mark them `required`.
REQUIRED_HEADERS = {"429": ("Retry-After",)}

# Date-times the contract's own example shows without an offset, as the service sends them
# (ExceptionResponse: "2025-10-11T12:23:56.0154302"); there the offset is optional.
OFFSET_OPTIONAL_DATE_TIMES = {("ExceptionInfo", "timestamp")}
OFFSET_OPTIONAL_FORMAT = "date-time-offset-optional"

# Responses whose shape the client picks with `X-Error-Format: problem-details` (api-changelog.md).
NEGOTIATED_ERROR_STATUSES = ("400", "429")


# ---- OpenAPI 3.0 schema -> JSON Schema 2020-12 ------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "if",
    "then",
    "else",
)
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def to_json_schema(schema):
    """One OpenAPI 3.0 schema object as JSON Schema 2020-12 (recursively)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "nullable":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = to_json_schema(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in schema:
                out[key] = schema[bound]
        else:
            out[key] = value
    if schema.get("exclusiveMinimum") is True:
        out.pop("minimum", None)
    if schema.get("exclusiveMaximum") is True:
        out.pop("maximum", None)
    if schema.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def convert_contract(contract: dict) -> dict:
    """A copy of the contract whose component and response schemas are JSON Schema 2020-12."""
    converted = copy.deepcopy(contract)
    schemas = converted.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        schemas[name] = to_json_schema(schema)
    for name, prop in OFFSET_OPTIONAL_DATE_TIMES:
        target = schemas.get(name, {}).get("properties", {}).get(prop)
        if isinstance(target, dict) and target.get("format") == "date-time":
            target["format"] = OFFSET_OPTIONAL_FORMAT
    for operation in _operations(converted):
        for response in operation.get("responses", {}).values():
            for media in response.get("content", {}).values():
                if "schema" in media:
                    media["schema"] = to_json_schema(media["schema"])
            for header in response.get("headers", {}).values():
                if "schema" in header:
                    header["schema"] = to_json_schema(header["schema"])
    return converted


def _operations(contract: dict):
    for item in contract.get("paths", {}).values():
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield item[method]


# ---- formats ----------------------------------------------------------------------------------

DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")


def is_rfc3339_date_time(value: str, offset_required: bool = True) -> bool:
    match = DATE_TIME.match(value)
    if not match:
        return False
    day, hour, minute, second, fraction, offset = match.groups()
    if offset is None and offset_required:
        return False
    offset = "+00:00" if offset is None or offset in "Zz" else offset
    try:
        # Python takes at most 6 fraction digits; .NET sends 7, which RFC 3339 allows.
        datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}{(fraction or '')[:7]}{offset}")
    except ValueError:
        return False
    return True


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value):
        return not isinstance(value, str) or is_rfc3339_date_time(value)

    @checker.checks(OFFSET_OPTIONAL_FORMAT)
    def _date_time_offset_optional(value):
        return not isinstance(value, str) or is_rfc3339_date_time(value, offset_required=False)

    @checker.checks("date", raises=ValueError)
    def _date(value):
        return not isinstance(value, str) or bool(
            re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and date.fromisoformat(value)
        )

    @checker.checks("int32")
    def _int32(value):
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value):
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    @checker.checks("byte", raises=(binascii.Error, ValueError))
    def _byte(value):
        return not isinstance(value, str) or base64.b64decode(value, validate=True) is not None

    return checker


# ---- matching requests to operations ----------------------------------------------------------


@dataclass(frozen=True)
class PathTemplate:
    template: str
    pattern: re.Pattern
    literal_segments: int

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        segments = template.strip("/").split("/")
        regex = "/".join("[^/]+" if re.fullmatch(r"\{[^}]+\}", s) else re.escape(s) for s in segments)
        literals = sum(1 for s in segments if not s.startswith("{"))
        return cls(template, re.compile(f"^/{regex}/?$"), literals)


def normalise_template(template: str) -> str:
    """A router's path as a contract path: no API prefix, no `:converter` in parameters."""
    if template.startswith(API_PREFIX + "/"):
        template = template[len(API_PREFIX) :]
    return re.sub(r"\{([^}:]+):[^}]+\}", r"{\1}", template)


class ContractChecker:
    """Checks one captured exchange at a time against a loaded open-api.json."""

    def __init__(self, contract: dict):
        self.contract = contract
        self.converted = convert_contract(contract)
        resource = Resource.from_contents(self.converted, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(CONTRACT_URI, resource)
        self.formats = format_checker()
        # Most literal segments first, so /auth/sessions wins over /auth/{referenceNumber}.
        self.templates = sorted(
            (PathTemplate.parse(t) for t in contract.get("paths", {})), key=lambda t: (-t.literal_segments, t.template)
        )
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def from_file(cls, contract_path: str | Path | None = None) -> ContractChecker:
        """A checker for a contract file, or (None) for the contract the emulator follows."""
        if contract_path is None:
            return cls(followed_contract())
        return cls(json.loads(Path(contract_path).read_text(encoding="utf-8")))

    def match(self, method: str, path: str) -> tuple[str | None, bool]:
        """(template, documented) for a request path relative to the API prefix."""
        candidates = [t.template for t in self.templates if t.pattern.match(path)]
        for template in candidates:
            if method.lower() in self.contract["paths"][template]:
                return template, True
        return (candidates[0] if candidates else None), False

    def validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{CONTRACT_URI}#{pointer}"}, registry=self.registry, format_checker=self.formats
            )
        return self._validators[pointer]

    def check_exchange(self, record: dict) -> list[str]:
        """Problems with one captured exchange (empty when it conforms)."""
        method = str(record.get("method", "")).upper()
        path = str(record.get("path", ""))
        status = record.get("status")
        label = f"{method} {path} -> {status}"
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            path = path[len(API_PREFIX) :] or "/"
        if path.startswith(UNCHECKED_PREFIXES) or record.get("injected_fault"):
            return []

        template, documented = self.match(method, path)
        if not documented and template and status == 405:
            return self._check_method_not_allowed(label, record, template)
        if not documented:
            where = f"path {template}" if template else "no documented path"
            return [f"{label}: undocumented operation ({where} has no {method})"]
        problems = []
        routed = record.get("template")
        if routed and normalise_template(routed) != template:
            problems.append(f"{label}: routed to {normalise_template(routed)} but the contract matches {template}")

        operation = self.contract["paths"][template][method.lower()]
        responses = operation.get("responses", {})
        status_key = str(status)
        if status_key not in responses:
            if "default" not in responses:
                documented_codes = ", ".join(sorted(responses))
                return problems + [
                    f"{label}: status {status} is not documented for {method} {template} "
                    f"(documented: {documented_codes})"
                ]
            status_key = "default"
        pointer = "/paths/" + _escape(template or "") + f"/{method.lower()}/responses/{status_key}"
        response = responses[status_key]
        problems += self._check_headers(label, record, response, status_key, pointer)
        problems += self._check_body(label, record, response, status_key, pointer)
        return problems

    def _check_method_not_allowed(self, label, record, template: str) -> list[str]:
        """A method the contract lacks on a documented path: 405 (RFC 9110), whose Allow lists the documented ones."""
        headers = {k.lower(): v for k, v in (record.get("response_headers") or {}).items()}
        allowed = {m.strip().upper() for m in headers.get("allow", "").split(",") if m.strip()} - {"HEAD"}
        documented = {m.upper() for m in self.contract["paths"][template] if m in HTTP_METHODS}
        if allowed != documented:
            return [f"{label}: Allow says {sorted(allowed)}, the contract documents {sorted(documented)}"]
        return []

    def _check_headers(self, label, record, response, status_key, pointer) -> list[str]:
        headers = {k.lower(): v for k, v in (record.get("response_headers") or {}).items()}
        documented = response.get("headers", {})
        required = {name for name, spec in documented.items() if spec.get("required")}
        required |= set(REQUIRED_HEADERS.get(status_key, ()))
        problems = [
            f"{label}: required header {name} is missing" for name in sorted(required) if name.lower() not in headers
        ]
        for name, spec in documented.items():
            value = headers.get(name.lower())
            if value is None or "schema" not in spec:
                continue
            header_pointer = f"{pointer}/headers/{_escape(name)}/schema"
            schema = self._resolve(spec["schema"])
            instance = _header_value(value, schema)
            for error in self.validator(header_pointer).iter_errors(instance):
                problems.append(f"{label}: header {name}={value!r}: {error.message}")
        return problems

    def _check_body(self, label, record, response, status_key, pointer) -> list[str]:
        content = response.get("content", {})
        headers = {k.lower(): v for k, v in (record.get("response_headers") or {}).items()}
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        has_body = record.get("body") is not None or bool(record.get("body_text"))
        if not content:
            if has_body:
                return [f"{label}: the contract documents no body for {status_key}, but one was sent ({media_type})"]
            return []
        if not has_body:
            return [f"{label}: empty body; expected one of {', '.join(content)}"]
        if media_type not in content:
            return [
                f"{label}: content type {media_type or '(none)'} is not documented for {status_key} "
                f"(documented: {', '.join(content)})"
            ]
        problems = []
        if status_key in NEGOTIATED_ERROR_STATUSES and len(content) > 1:
            asked = (record.get("request_headers") or {}).get("x-error-format", "").strip().lower()
            wants_problem = asked == "problem-details"
            if wants_problem != (media_type == "application/problem+json"):
                problems.append(f"{label}: X-Error-Format {asked or '(absent)'} but the response is {media_type}")
        if media_type == "application/json" or media_type.endswith("+json"):
            if record.get("body_invalid_json") or record.get("body") is None:
                return problems + [f"{label}: {media_type} body is not valid JSON"]
            schema_pointer = f"{pointer}/content/{_escape(media_type)}/schema"
            errors = sorted(
                self.validator(schema_pointer).iter_errors(record["body"]), key=lambda e: list(e.absolute_path)
            )
            for error in errors:
                problems.append(f"{label}: body {_describe(error)}")
        return problems

    def _resolve(self, schema: dict) -> dict:
        ref = schema.get("$ref")
        if ref and ref.startswith("#/"):
            node = self.converted
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            return node
        return schema

    def check_file(self, capture_path: str | Path) -> list[str]:
        problems = []
        with open(capture_path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{Path(capture_path).name}:{number}"
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    problems.append(f"{where}: not a JSON line ({exc})")
                    continue
                problems += [f"{where}: {problem}" for problem in self.check_exchange(record)]
        return problems


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _describe(error: ValidationError) -> str:
    """Where and why, looking inside the anyOf that `nullable` adds for the real reason."""
    if error.context:
        inner = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        if inner:
            return _describe(best_match(inner))
    return f"{error.json_path}: {_short(error.message)}"


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


def _header_value(value: str, schema: dict):
    """Header text as the JSON value its schema describes (Retry-After is an integer)."""
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def check_capture(capture_path: str | Path, contract_path: str | Path | None = None) -> list[str]:
    """Every problem found in one capture file (empty list: the emulator kept the contract)."""
    return ContractChecker.from_file(contract_path).check_file(capture_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ksef_emulator.conformance", description="Check captured /v2 exchanges against open-api.json."
    )
    parser.add_argument("captures", nargs="+", type=Path, help="capture files written by --capture")
    parser.add_argument(
        "--contract",
        type=Path,
        default=None,
        help="open-api.json to check against (default: the one the emulator follows)",
    )
    args = parser.parse_args(argv)
    checker = ContractChecker.from_file(args.contract)
    total = 0
    for capture in args.captures:
        count = sum(1 for line in capture.read_text(encoding="utf-8").splitlines() if line.strip())
        problems = checker.check_file(capture)
        total += len(problems)
        for problem in problems:
            print(problem)
        print(f"{capture}: {count} exchanges, {len(problems)} problems", file=sys.stderr)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
