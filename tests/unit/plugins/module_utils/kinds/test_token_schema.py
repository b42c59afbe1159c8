"""One source for a declared token's options: every copy equals it field by field.

Copies: the argument spec (derived at import), the token module's options, the tokens module's `tokens[]`
suboptions, the `stores` doc fragment and the role's `ksef_tokens[]` argument spec. The store types' own
argument spec (what each store class accepts) must agree with the documented store options.
"""
import importlib.util
from pathlib import Path

import pytest
import yaml

from ansible_collections.ksef.credentials.plugins.doc_fragments.stores import ModuleDocFragment
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.token_schema import TOKEN_OPTIONS, TOKEN_SCHEMA
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import STORE_ARGSPEC
from ansible_collections.ksef.credentials.plugins.module_utils._stores._schema import STORE_SCHEMA
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.certificate_schema import CERTIFICATE_SCHEMA
from ansible_collections.ksef.credentials.plugins.module_utils._kinds.grant_schema import GRANT_SCHEMA
from ansible_collections.ksef.credentials.plugins.modules import credentials, token, tokens

REPO = Path(__file__).resolve().parents[5]
FIELDS = ("description", "type", "required", "default", "choices", "elements")


def _generator():
    spec = importlib.util.spec_from_file_location("schema_generator", REPO / "scripts" / "schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def compare(copy: dict, source: dict, where: str, nested: str = "suboptions"):
    """Every field of every option, recursively; a missing or extra option fails too."""
    assert sorted(copy) == sorted(source), where
    for name, doc in source.items():
        for field in FIELDS:
            assert copy[name].get(field) == doc.get(field), "%s.%s: %s differs" % (where, name, field)
        if "suboptions" in doc:
            compare(copy[name][nested], doc["suboptions"], "%s.%s" % (where, name), nested)


def test_every_generated_copy_is_up_to_date():
    assert GEN.stale(write=False) == [], "run `make schema` (scripts/schema.py) after editing the schema"


def test_the_token_module_documents_the_schema():
    options = yaml.safe_load(token.DOCUMENTATION)["options"]
    declared = {name: options[name] for name in TOKEN_SCHEMA if name != "store"}
    compare(declared, GEN.resolve({k: v for k, v in TOKEN_SCHEMA.items() if k != "store"}, ""), "token")
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    compare(fragment, GEN.resolve({"store": STORE_SCHEMA}, ""), "stores fragment")
    assert "ksef.credentials.stores" in yaml.safe_load(token.DOCUMENTATION)["extends_documentation_fragment"]


def test_the_tokens_module_documents_the_schema_for_each_entry():
    suboptions = yaml.safe_load(tokens.DOCUMENTATION)["options"]["tokens"]["suboptions"]
    compare(suboptions, GEN.resolve(TOKEN_SCHEMA, "tokens[]."), "tokens[]")


def test_the_credentials_module_documents_both_schemas_and_both_store_templates():
    options = yaml.safe_load(credentials.DOCUMENTATION)["options"]
    compare(options["tokens"]["suboptions"], GEN.resolve(TOKEN_SCHEMA, "tokens[]."), "tokens[]")
    compare(options["certificates"]["suboptions"], GEN.resolve(CERTIFICATE_SCHEMA, "certificates[]."), "certificates[]")
    compare(options["grants"]["suboptions"], GEN.resolve(GRANT_SCHEMA, "grants[]."), "grants[]")
    for plural, noun in (("tokens", "token"), ("certificates", "certificate")):
        option = "%s_store_template" % plural
        compare({option: options[option]}, GEN.store_template(option, "%s_exclusive" % plural, noun), option)
        assert "O(%s_exclusive)" % plural in " ".join(options[option]["description"])


def test_the_company_role_validates_both_schemas():
    specs = yaml.safe_load((REPO / "roles/company/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    compare(options["ksef_tokens"]["options"], GEN.resolve(TOKEN_SCHEMA, "ksef_tokens[].", "options"),
            "ksef_tokens[]", "options")
    compare(options["ksef_certificates"]["options"],
            GEN.resolve(CERTIFICATE_SCHEMA, "ksef_certificates[].", "options"), "ksef_certificates[]", "options")
    compare(options["ksef_grants"]["options"], GEN.resolve(GRANT_SCHEMA, "ksef_grants[].", "options"),
            "ksef_grants[]", "options")


def test_both_roles_take_every_auth_option_of_the_modules():
    from ansible_collections.ksef.credentials.plugins.module_utils._auth_options import AUTH_ARGUMENT_SPEC

    for role in ("tokens", "company"):
        specs = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())
        auth = specs["argument_specs"]["main"]["options"]["ksef_auth"]["options"]
        assert sorted(auth) == sorted(AUTH_ARGUMENT_SPEC["auth"]["options"]), role


def test_the_role_validates_the_schema_and_nothing_narrower():
    specs = yaml.safe_load((REPO / "roles/tokens/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]["ksef_tokens"]["options"]
    compare(options, GEN.resolve(TOKEN_SCHEMA, "ksef_tokens[].", "options"), "ksef_tokens[]", nested="options")
    assert "choices" not in options["permissions"], "the modules normalise permission names; the role must not narrow them"


@pytest.mark.parametrize("name", sorted(TOKEN_SCHEMA))
def test_the_argument_spec_is_derived_from_the_schema(name):
    doc, spec = TOKEN_SCHEMA[name], TOKEN_OPTIONS[name]
    for field in ("type", "required", "default", "choices", "elements"):
        assert spec.get(field) == doc.get(field), field


@pytest.mark.parametrize("name", sorted(STORE_SCHEMA["suboptions"]))
def test_each_store_option_is_accepted_as_documented(name):
    doc, spec = STORE_SCHEMA["suboptions"][name], STORE_ARGSPEC["options"][name]
    assert spec["type"] == doc["type"] or {spec["type"], doc["type"]} == {"str", "path"}
    if "choices" in spec:
        assert sorted(spec["choices"]) == sorted(doc["choices"])


def test_no_store_option_is_undocumented():
    assert sorted(STORE_ARGSPEC["options"]) == sorted(STORE_SCHEMA["suboptions"])
