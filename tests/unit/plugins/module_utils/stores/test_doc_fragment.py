"""The `stores` doc fragment documents exactly the options STORE_ARGSPEC accepts, with the same types."""
import yaml

from ansible_collections.ksef.credentials.plugins.doc_fragments.stores import ModuleDocFragment
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import STORE_ARGSPEC, store_types


def test_doc_fragment_matches_the_argument_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]["store"]
    assert (documented["type"], documented["elements"]) == (STORE_ARGSPEC["type"], STORE_ARGSPEC["elements"])
    suboptions = documented["suboptions"]
    assert set(suboptions) == set(STORE_ARGSPEC["options"])
    for name, spec in STORE_ARGSPEC["options"].items():
        assert suboptions[name]["type"] == spec["type"], name
    assert suboptions["type"]["choices"] == STORE_ARGSPEC["options"]["type"]["choices"]
    for cls in store_types().values():  # choices live in each type's own spec
        for name, spec in cls.argument_spec.items():
            if "choices" in spec:
                assert suboptions[name]["choices"] == spec["choices"], name


def test_choices_of_the_argument_spec_are_documented():
    """validate-modules compares documented choices with the spec AnsibleModule gets (the union)."""
    suboptions = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]["store"]["suboptions"]
    for name, spec in STORE_ARGSPEC["options"].items():
        assert suboptions[name].get("choices") == spec.get("choices"), name
    assert STORE_ARGSPEC["options"]["format"]["choices"] == ["raw", "env", "json", "yaml", "pem", "pkcs12"]
