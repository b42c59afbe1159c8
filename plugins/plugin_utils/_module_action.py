# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin of each KSeF module: runs the module in Ansible's worker process when it runs on the controller.

A module task normally starts a new Python process from Ansible's AnsiballZ zip: ansible-core's own module code is
compiled from the zip at every start, the collection's code is loaded again, and the arguments are written to a
temp file. The modules of this collection talk only to KSeF and to secret stores, and with `connection: local` (one
inventory host per company) they run on the controller, in the controller's Python. Then there is no need for that
process: the action plugin, loaded once by the controller together with the module's code, runs the module's
`main()` in the worker process Ansible has already forked for the task. It is the same AnsibleModule with the same
arguments (Ansible's internal `_ansible_*` ones included), the same checks and the same result; only the process
start is gone (docs/performance.md).

Elsewhere the module runs as usual: another connection, become, async, a task timeout, an interpreter other than
the controller's Python (by path: a virtualenv made from it has other packages), an ansible-core other than 2.19 and
2.21 (the versions this is tested with), or KSEF_IN_PROCESS=0 (or false, no, off).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import types
import typing

from ansible import constants as C
from ansible.plugins.action import ActionBase
from ansible.release import __version__ as ansible_core_version
from ansible.utils.vars import merge_hash

try:  # ansible-core up to 2.20; from 2.21 the parsed result removes Ansible's internal keys itself
    from ansible.vars.clean import remove_internal_keys
except ImportError:
    remove_internal_keys = None

# What running a module in this process relies on: ansible-core's module-side runtime and the controller's parser
# of module output, as ansible-core 2.19 and 2.21 have them. They are private and change between versions (2.21
# reworked the parser), so only the versions this was tested with use it; the others run a module process.
TESTED_VERSIONS = ((2, 19), (2, 21))
try:
    from ansible.module_utils import _internal, basic
    from ansible.module_utils._internal._ansiballz import _loader
    from ansible.module_utils.common import warnings as module_warnings
    from ansible.module_utils.common.json import Direction, get_module_encoder

    IN_PROCESS_SUPPORTED = tuple(int(part) for part in ansible_core_version.split(".")[:2]) in TESTED_VERSIONS and all(
        hasattr(owner, name)
        for owner, name in (
            (basic, "_ANSIBLE_PROFILE"),
            (basic, "_ANSIBLE_ARGS"),
            (_internal, "is_controller"),
            (_loader, "_handle_exception"),
            (module_warnings, "_global_warnings"),
            (module_warnings, "_global_deprecations"),
        )
    )
except ImportError:
    IN_PROCESS_SUPPORTED = False

# Modules of the collection declare no serialization profile: Ansible's default.
PROFILE = "legacy"
SWITCH = "KSEF_IN_PROCESS"
OFF = ("0", "false", "no", "off")


def load_module(name: str) -> types.ModuleType | None:
    """The collection's module `name`, imported by the controller when it loads the action plugin (so every worker
    forked afterwards has it); None when the controller's Python cannot import it (the module then runs as usual)."""
    if not IN_PROCESS_SUPPORTED:
        return None
    try:
        return importlib.import_module(f"ansible_collections.ksef.credentials.plugins.modules.{name}")
    except ImportError:
        return None


class ModuleAction(ActionBase):
    """Runs the collection module MODULE in this process when it would run in the controller's Python anyway."""

    MODULE: types.ModuleType | None = None
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no longer has any effect
        task_vars = task_vars or {}
        if self.in_process(task_vars):
            return merge_hash(result, self._run_in_process(task_vars))
        # As ansible-core's own action for modules (ansible.builtin.normal).
        wrap_async = self._task.async_val and not getattr(self._connection, "has_native_async", False)
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def in_process(self, task_vars: dict) -> bool:
        """Whether the module would run in this very Python on this machine, as this user, synchronously."""
        if self.MODULE is None or os.environ.get(SWITCH, "1").strip().lower() in OFF:
            return False
        if self._task.async_val or self._play_context.become or self._connection.transport != "local":
            return False
        # A task `timeout:` interrupts the worker wherever it is, even between creating a credential and storing or
        # revoking it again; a module process runs to its end (ansible-core only stops waiting for it).
        if self._task.timeout:
            return False
        host_vars = task_vars
        if self._task.delegate_to:
            host_vars = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to, {})
        # As Ansible picks it: the host's variable, else the interpreter_python setting; "auto" means the one
        # discovered on the host (a fact once a module ran there, otherwise not known to be this Python).
        interpreter = host_vars.get("ansible_python_interpreter")
        if interpreter is None:
            interpreter = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
        interpreter = self._templar.template(interpreter)
        if isinstance(interpreter, str) and interpreter.startswith("auto"):
            interpreter = host_vars.get("ansible_facts", {}).get("discovered_interpreter_python")
        # The path itself, not where its links lead: a virtualenv's python links to its base interpreter, yet sees
        # other packages than the Python running Ansible.
        return isinstance(interpreter, str) and os.path.abspath(interpreter) == os.path.abspath(sys.executable)

    def _run_in_process(self, task_vars: dict) -> dict:
        module = typing.cast(types.ModuleType, self.MODULE)  # in_process() checked it is loaded
        module_args = dict(self._task.args)
        self._update_module_args(self._task.action, module_args, task_vars)
        environment: dict = {}
        self._compute_environment_string(environment)  # the task's `environment:`, as a module process gets it
        encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
        stdout, stderr = io.StringIO(), io.StringIO()
        saved_environment = dict(os.environ)
        # The worker runs this task alone and exits after it: what is changed here dies with it. Restored anyway,
        # since the worker goes on to shape the result (and runs every item of a loop).
        try:
            os.environ.update({key: str(value) for key, value in environment.items()})
            _internal.is_controller = False  # module-side behaviour: warnings go into the result
            module_warnings._global_warnings.clear()  # an earlier item of a loop ran in this process
            module_warnings._global_deprecations.clear()
            basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
            basic._ANSIBLE_PROFILE = PROFILE
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    module.main()
                except SystemExit:  # exit_json and fail_json end the module run
                    pass
                except Exception as exc:  # reported as ansible-core reports a module that raised (then exits)
                    with contextlib.suppress(SystemExit):
                        _loader._handle_exception(exc, PROFILE)
        finally:
            _internal.is_controller = True
            basic._ANSIBLE_ARGS = None
            os.environ.clear()
            os.environ.update(saved_environment)
        # Read back as ansible-core reads a module process's output (_execute_module).
        parsed = self._parse_returned_data({"rc": 0, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}, PROFILE)
        if hasattr(parsed, "as_result_dict"):  # ansible-core 2.21: a task result object
            parsed.remove_internal_keys()
            return parsed.as_result_dict(for_round_trip=True)
        remove_internal_keys(parsed)  # ansible-core 2.19: a dict
        return parsed
