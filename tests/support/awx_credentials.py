"""The credential types of extensions/awx/credential_types, rendered the way AWX renders their injectors.

AWX renders each injector template with the credential's inputs in a sandboxed Jinja2 environment: `file`
templates become files of the job's private data directory (env/), whose paths the `env` and `extra_vars`
templates reach as `tower.filename.<name>`.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

CREDENTIAL_TYPES = Path(__file__).resolve().parents[2] / "extensions" / "awx" / "credential_types"


def inject(type_name: str, inputs: dict, env_dir: Path, seen_as: str | None = None) -> tuple[dict, dict]:
    """(environment, extra vars) of a credential of this type; its files are written 0600 into env_dir.

    `seen_as`: the directory env_dir is at where the job runs (/runner/env in an EE container); env_dir itself
    when None.
    """
    definition = yaml.safe_load((CREDENTIAL_TYPES / f"{type_name}.yml").read_text())
    fields = {f["id"]: inputs.get(f["id"], f.get("default", "")) for f in definition["inputs"]["fields"]}
    unknown = set(inputs) - set(fields)
    assert not unknown, f"{type_name} has no field {unknown}"
    missing = [name for name in definition["inputs"].get("required", []) if not fields[name]]
    assert not missing, f"{type_name} needs {missing}"
    jinja = SandboxedEnvironment(undefined=StrictUndefined)
    injectors = definition["injectors"]
    filenames = {}
    for key, template in injectors.get("file", {}).items():
        name = key.split(".", 1)[1]
        path = env_dir / f"{type_name}-{name}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(jinja.from_string(template).render(**fields))
        filenames[name] = f"{seen_as or env_dir}/{path.name}"
    context = {**fields, "tower": {"filename": filenames}}

    def render(templates: dict) -> dict:
        return {key: jinja.from_string(value).render(**context) for key, value in templates.items()}

    return render(injectors.get("env", {})), render(injectors.get("extra_vars", {}))
