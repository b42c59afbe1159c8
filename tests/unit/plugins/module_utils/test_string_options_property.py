"""Property: every string option a declaration carries is either refused before any request, by an error that names
the option, or accepted and round-trips - a name through its KSeF marker, a description through the token's
description, a certificate name through KSeF's certificateName, a file path and key through a real write and read.

The strings are hostile on purpose: control characters (a trailing newline is what YAML `name: |` gives), NUL,
unicode, the marker syntax itself, and values far beyond any limit.
"""
from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ksef.credentials.plugins.module_utils import _durations, _identity
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import StoreConfigError, build_stores
from tests.support.ansible_module import make_module
from tests.support.token_values import meta_for, token_value

# KSeF's EnrollCertificateRequest.certificateName (open-api.json).
CERTIFICATE_NAME = re.compile(r"[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]{5,100}")

hostile = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40).map(lambda s: s + "\n"),
    st.sampled_from(["erp", "erp\n", "erp\x00", "ERP", "e rp", "erp]", "[ksef.credentials:erp]", "ksef-credentials erp",
                     "a" * 63, "a" * 64, "a" * 5000, "zażółć", "erp\u2028", "erp\t", "", " erp", "erp.1", "-erp"]),
    st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,62}\Z"),
)
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(name=hostile)
def test_a_token_name_is_refused_naming_it_or_parses_back_from_its_marker(name):
    try:
        _identity.validate_name(name)
    except KsefConfigError as exc:
        assert exc.option == "name"
        return
    assert _identity.name_of(_identity.compose(name, "ERP sender")) == name


@SETTINGS
@given(text=hostile)
def test_a_description_is_refused_naming_it_or_parses_back(text):
    try:
        full = _identity.compose("erp", text)
    except KsefConfigError as exc:
        assert exc.option == "description"
        return
    assert len(full) <= _identity.DESCRIPTION_MAX
    assert _identity.parse(full) == ("erp", text.strip())


@SETTINGS
@given(name=hostile)
def test_a_certificate_name_is_refused_naming_it_or_is_a_ksef_certificate_name_that_parses_back(name):
    try:
        certificate_plan.validate_name(name)
    except KsefConfigError as exc:
        assert exc.option == "name"
        return
    ksef_name = certificate_plan.ksef_name(name)
    assert CERTIFICATE_NAME.fullmatch(ksef_name), ksef_name
    assert certificate_plan.name_of(ksef_name) == name


@SETTINGS
@given(text=hostile)
def test_a_duration_is_refused_naming_its_option_or_means_one_length(text):
    try:
        parsed = _durations.parse(text, "rotate_after")
    except KsefConfigError as exc:
        assert exc.option == "rotate_after"
        return
    assert parsed is None or _durations.parse(_durations.describe(parsed) or "0s", "rotate_after") == parsed


@SETTINGS
@given(filename=hostile, fmt=st.sampled_from(["raw", "env", "json", "yaml"]), key=hostile)
def test_a_file_path_and_key_are_refused_naming_them_or_round_trip(tmp_path, filename, fmt, key):
    options = {"type": "file", "path": str(tmp_path / filename), "format": fmt}
    if fmt != "raw":
        options["key"] = key
    try:
        (store,) = build_stores(make_module([options]), [options])
    except StoreConfigError as exc:
        assert exc.option in ("store[0].path", "store[0].key"), exc.option
        return
    value, ref = token_value()
    store.write(value, meta_for(ref), None)
    held = store.read()
    assert held is not None and (held.value, held.reference_number) == (value, ref)
    store.remove()


@SETTINGS
@given(text=hostile, scheme=st.sampled_from(["http://127.0.0.1:8080/", "https://api-test.ksef.mf.gov.pl/", ""]))
def test_an_api_url_is_refused_naming_it_or_is_a_clean_base_url(text, scheme):
    from urllib.parse import urlsplit

    from ansible_collections.ksef.credentials.plugins.module_utils._connection import resolve_connection

    try:
        settings_ = resolve_connection({"api_url": scheme + text, "validate_certs": True})
    except KsefConfigError as exc:
        assert exc.option == "api_url"
        return
    parts = urlsplit(settings_.base_url)
    assert parts.scheme in ("http", "https") and parts.hostname and not parts.query and not parts.fragment
    assert all(c.isprintable() and not c.isspace() for c in settings_.base_url)


@SETTINGS
@given(text=hostile, option=st.sampled_from(["ksef_token", "certificate", "pkcs12", "access_token"]))
def test_a_login_string_is_refused_naming_it_or_holds_no_control_character(text, option):
    from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import validate_auth

    auth = {option: text, "private_key": "/k"} if option == "certificate" else {option: text}
    try:
        config = validate_auth(auth)
    except KsefConfigError as exc:
        assert exc.option.startswith("auth"), exc.option
        assert not text.strip() or text not in str(exc), "a login string is never shown"
        return
    assert not any(unicodedata.category(c) == "Cc" for c in getattr(config, option))


@SETTINGS
@given(text=hostile, option=st.sampled_from(["plan_file", "apply_plan"]))
def test_a_saved_plan_path_is_refused_naming_it_before_any_request(tmp_path, text, option):
    from ansible_collections.ksef.credentials.plugins.module_utils import _saved_plan

    path = str(tmp_path / text) if text else ""
    try:
        _saved_plan.check_writable(path) if option == "plan_file" else _saved_plan.load(path)
    except KsefConfigError as exc:
        assert exc.option == option
        return
    assert option == "plan_file" and not any(unicodedata.category(c) == "Cc" for c in path)
