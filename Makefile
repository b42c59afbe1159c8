# ksef.credentials: every entry point a developer, CI or a new user needs.
# `make demo` and `make test` work on a fresh Debian machine with Python 3.11 and nothing else.

PYTHON      ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
COLL_LINK   := .collections/ansible_collections/ksef/credentials
PYTEST_ARGS ?=
TEST_WORKERS ?= 2
# The check of every response the emulators sent during the run runs once the run is over.
CAPTURE_CHECK := tests/emulator/test_zz_conformance.py::test_every_capture_written_by_the_suite_keeps_the_contract
# schemathesis generates its test cases at run time, which pytest-xdist does not see: the fuzzing runs in one process.
FUZZ := tests/emulator/test_fuzz_contract.py

.PHONY: help venv system-deps demo test test-unit test-emulator test-integration test-ecosystem \
        test-soak test-matrix ee ee-deps ee-test sanity units-ansible-test lint release changelog docs bench emulator clean \
        schema lint-python typecheck

help:
	@echo "make venv              create .venv with everything the project needs"
	@echo "make demo              run the demo playbook against a local KSeF emulator"
	@echo "make test              run every test suite (what CI runs)"
	@echo "make test-unit         unit tests only (fast)"
	@echo "make test-emulator     emulator tests only"
	@echo "make test-integration  playbooks against the emulator"
	@echo "make test-soak         the soak-marked tests: long loops (100 kills, 12 fault rounds), every kill point"
	@echo "make test-ecosystem    ansible-test sanity/units, ansible-lint, galaxy build/install, EE"
	@echo "make test-matrix       sanity, units and integration on every tested ansible-core/Python pair (nox)"
	@echo "make ee                build the execution environment image localhost/ksef-credentials-ee:latest"
	@echo "make ee-test           AWX-style jobs in that image through ansible-runner (builds it first)"
	@echo "make sanity            ansible-test sanity on a copy of the collection"
	@echo "make lint              ansible-lint (production profile) on roles and examples"
	@echo "make lint-python       ruff, mypy, the generated docs in sync, the pre-commit configuration"
	@echo "make release           build the collection tarball into build/"
	@echo "make changelog         lint the fragments; preview the next CHANGELOG.rst in build/changelog"
	@echo "make docs              build the documentation site (antsibull-docs + guides) into build/docs/html"
	@echo "make bench             API calls and wall time of the role at scale (BENCH_ARGS=--help)"
	@echo "make emulator          start the emulator in the foreground on 127.0.0.1:8080"
	@echo "make schema            write the token options from their one source into docs and argument specs"

venv: $(STAMP) $(COLL_LINK)

$(STAMP): requirements.txt requirements-dev.txt emulator/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet -e emulator/
	touch $(STAMP)

# ansible resolves ksef.credentials from the working tree through this link (see ansible.cfg).
$(COLL_LINK):
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn ../../.. $(COLL_LINK)

# Debian packages the checks need (shellcheck for ansible-test sanity); installs only what is missing.
system-deps:
	scripts/system_deps.sh

demo: venv
	@export KSEF_RUN_ID="demo-$$$$-$$(date +%s%N)"; rc=0; trap 'rc=130' INT TERM; \
	$(PY) scripts/demo.py || rc=$$?; \
	$(PY) scripts/leftovers.py "$$KSEF_RUN_ID" || { [ $$rc -ne 0 ] || rc=1; }; exit $$rc

# Static checks first (seconds), then two pytest-xdist workers (one test file per worker), then the conformance
# check of every capture of the run. Whatever the outcome (an interrupt included), the run ends by checking that
# no process it started is still alive (scripts/leftovers.py): every process of the run carries KSEF_RUN_ID,
# and only those are looked at.
test: venv system-deps lint-python
	@export KSEF_RUN_ID="test-$$$$-$$(date +%s%N)"; rc=0; \
	trap 'rc=130' INT TERM; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests --deselect $(CAPTURE_CHECK) --ignore $(FUZZ) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 0 ]; then KSEF_KEEP_OUTPUT=1 $(PY) -m pytest $(FUZZ) $(PYTEST_ARGS) || rc=$$?; fi; \
	if [ $$rc -eq 0 ]; then KSEF_KEEP_OUTPUT=1 KSEF_REQUIRE_CAPTURES=1 $(PY) -m pytest $(CAPTURE_CHECK) || rc=$$?; fi; \
	$(PY) scripts/leftovers.py "$$KSEF_RUN_ID" || { [ $$rc -ne 0 ] || rc=1; }; \
	exit $$rc

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-emulator: venv
	$(PY) -m pytest tests/emulator $(PYTEST_ARGS)

test-integration: venv
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

# Every test marked `soak` (the reliability loops at full length, the further kill points and store races), then the
# property test with more full runs.
test-soak: venv
	KSEF_SOAK=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m soak tests --ignore $(FUZZ) $(PYTEST_ARGS)
	KSEF_SOAK=1 $(PY) -m pytest -m soak $(FUZZ) $(PYTEST_ARGS)
	KSEF_SOAK=1 $(PY) -m pytest tests/security/test_property_declarations.py $(PYTEST_ARGS)

test-ecosystem: venv system-deps
	$(PY) -m pytest tests/ecosystem $(PYTEST_ARGS)

# The tested range of ansible-core (noxfile.py): pyenv's Pythons on PATH for nox to find.
test-matrix: venv system-deps
	PATH="$$(ls -d $$HOME/.pyenv/versions/3.1[0-9]*/bin 2>/dev/null | tr '\n' ':')$$PATH" $(VENV)/bin/nox -f noxfile.py

# The execution environment: podman and debootstrap from Debian (scripts/system_deps.sh ee), a base image built
# locally (ee/base-image.sh, rebuilt when that script changes), the galaxy tarball, then ansible-builder.
# podman reads the project's ee/containers.conf, never the machine's own settings.
EE_IMAGE    := localhost/ksef-credentials-ee:latest
EE_BUILD    := build/ee
export CONTAINERS_CONF := $(CURDIR)/ee/containers.conf

ee-deps:
	scripts/system_deps.sh ee

$(EE_BUILD)/base-image.stamp: ee/base-image.sh | ee-deps
	mkdir -p $(EE_BUILD)
	EE_WORK_DIR=$(EE_BUILD) ee/base-image.sh
	touch $@

ee: venv ee-deps $(EE_BUILD)/base-image.stamp
	@start=$$(date +%s); \
	rm -f $(EE_BUILD)/ksef-credentials-*.tar.gz; \
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(EE_BUILD) . >/dev/null && \
	mv $(EE_BUILD)/ksef-credentials-*.tar.gz $(EE_BUILD)/ksef-credentials.tar.gz && \
	$(VENV)/bin/ansible-builder build -f ee/execution-environment.yml -c $(EE_BUILD)/context \
	    --container-runtime podman --extra-build-cli-args "--network host" -v 1 && \
	echo "built $(EE_IMAGE) in $$(( $$(date +%s) - start )) s: $$(podman image inspect --format '{{.Size}}' $(EE_IMAGE) | numfmt --to=si)B"

ee-test: ee
	@export KSEF_RUN_ID="ee-$$$$-$$(date +%s%N)"; rc=0; trap 'rc=130' INT TERM; \
	KSEF_EE=1 $(PY) -m pytest tests/ee $(PYTEST_ARGS) || rc=$$?; \
	$(PY) scripts/leftovers.py "$$KSEF_RUN_ID" || { [ $$rc -ne 0 ] || rc=1; }; exit $$rc

sanity: venv system-deps
	scripts/ansible_test.sh sanity

units-ansible-test: venv
	scripts/ansible_test.sh units

lint: venv
	ANSIBLE_CONFIG=ansible.cfg $(VENV)/bin/ansible-lint $(wildcard roles) docs/examples

release: venv
	$(VENV)/bin/ansible-galaxy collection build --output-path build/ --force

changelog: venv
	scripts/changelog_preview.sh

docs: venv
	scripts/build_docs.sh

bench: venv
	@export KSEF_RUN_ID="bench-$$$$-$$(date +%s%N)"; rc=0; trap 'rc=130' INT TERM; \
	$(PY) bench/run.py $(BENCH_ARGS) || rc=$$?; \
	$(PY) scripts/leftovers.py "$$KSEF_RUN_ID" || { [ $$rc -ne 0 ] || rc=1; }; exit $$rc

emulator: venv
	$(PY) -m ksef_emulator --host 127.0.0.1 --port 8080 --state-dir build/emulator-state

clean:
	rm -rf build tests/output .pytest_cache .hypothesis

# ruff (lint and format) and mypy on the collection's plugins and the emulator, the generated documentation in
# sync with its source, and the pre-commit configuration valid.
lint-python: venv
	$(VENV)/bin/ruff check plugins emulator/ksef_emulator
	$(VENV)/bin/ruff format --check plugins emulator/ksef_emulator
	$(MAKE) --no-print-directory typecheck
	$(PY) scripts/schema.py --check
	$(VENV)/bin/pre-commit validate-config .pre-commit-config.yaml

typecheck: venv
	$(VENV)/bin/mypy --config-file mypy.ini emulator/ksef_emulator
	cd .collections && ../$(VENV)/bin/mypy --config-file ../mypy.ini -p ansible_collections.ksef.credentials.plugins

# The documentation of a declared token, from its one source (scripts/schema.py).
schema: venv
	$(PY) scripts/schema.py
