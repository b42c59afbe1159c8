# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-vault encryption for the file store, done by ansible-core's own `ansible-vault` program.

A module runs from an AnsiballZ payload that carries only `ansible.module_utils`; importing the
controller's `ansible.parsing.vault` there mixes two copies of ansible and breaks the module's
result serialisation. So encryption and decryption run ansible-core's vault CLI
(`python -m ansible.cli.vault`, the code behind `ansible-vault`) in a child process of the same
interpreter. Plaintext and ciphertext travel through pipes only; the password stays in its file.
"""

from __future__ import annotations

import re
import sys

VAULT_HEADER = b"$ANSIBLE_VAULT;"
# What `ansible-vault encrypt` writes: the header line, then lines of hexadecimal ciphertext.
_VAULT_FILE = re.compile(rb"\$ANSIBLE_VAULT;1\.[12];AES256(;[^\s;]+)?\n(?:[0-9a-f]+\n)*[0-9a-f]+\n?")
# Settings that make ansible-core print to stdout, where the ciphertext or plaintext is read. Environment
# variables win over any ansible.cfg, so these are set, not only removed.
_QUIET = {"ANSIBLE_DEBUG": "0", "ANSIBLE_VERBOSITY": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0"}


class VaultCommandError(Exception):
    """ansible-vault failed; `wrong_password` tells a decryption failure from anything else."""

    def __init__(self, message: str, wrong_password: bool = False, missing: bool = False):
        super().__init__(message)
        self.wrong_password = wrong_password
        self.missing = missing


def is_vault_encrypted(data: bytes) -> bool:
    return data.lstrip().startswith(VAULT_HEADER)


class AnsibleVault:
    """Encrypt/decrypt with one vault id and its password file (or password script)."""

    def __init__(self, password_file: str, vault_id: str | None, run_command):
        self.vault_id = vault_id or "default"  # "default" writes the unlabelled 1.1 header, as ansible-vault does
        self.password_file = password_file
        self._run_command = run_command  # the module's AnsibleModule.run_command

    def _run(self, action: str, data: bytes) -> bytes:
        identity = f"{self.vault_id}@{self.password_file}"
        command = [sys.executable, "-m", "ansible.cli.vault", action, "--vault-id", identity]
        if action == "encrypt":
            command += ["--encrypt-vault-id", self.vault_id]
        command += ["--output", "-", "-"]
        try:
            # Bytes in and out (encoding=None), nothing in the arguments expanded, exceptions raised here rather than
            # failing the module, so the store can undo what came before.
            returncode, stdout, stderr = self._run_command(
                command,
                data=data,
                binary_data=True,
                environ_update=_QUIET,
                encoding=None,
                expand_user_and_vars=False,
                handle_exceptions=False,
            )
        except OSError as exc:
            raise VaultCommandError(f"cannot run ansible-vault: {type(exc).__name__}") from None
        if returncode == 0:
            return stdout
        # stderr holds ansible's messages (file names, reasons), never the plaintext or the password
        errors = stderr.decode("utf-8", "replace")
        if "No module named" in errors and "ansible" in errors:
            raise VaultCommandError("ansible-core is not installed for this Python", missing=True)
        lines = [line.strip() for line in errors.splitlines() if "ERROR" in line]
        detail = lines[-1].split("]", 1)[-1].strip(" :") if lines else f"exit code {returncode}"
        raise VaultCommandError(detail, wrong_password="Decryption failed" in errors)

    def encrypt(self, plaintext: str) -> bytes:
        """The vault file's bytes; refused (nothing is written) unless they are exactly a vault file."""
        data = self._run("encrypt", plaintext.encode("utf-8"))
        if not _VAULT_FILE.fullmatch(data):
            raise VaultCommandError("ansible-vault wrote something other than a vault file; nothing was written")
        return data

    def decrypt(self, data: bytes) -> bytes:
        return self._run("decrypt", data)
