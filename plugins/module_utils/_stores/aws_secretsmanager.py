# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `aws_secretsmanager` store: an AWS Secrets Manager secret (the whole string, or one key of a JSON secret).

PutSecretValue makes a new version labelled AWSCURRENT and AWS moves AWSPREVIOUS to the version
that was current, so during a rotation's grace period the previous token stays reachable as
AWSPREVIOUS. `restore` moves AWSCURRENT back (UpdateSecretVersionStage).
"""

from __future__ import annotations

import json
import re
import uuid

from ansible_collections.ksef.credentials.plugins.module_utils._stores._aws import AWS_OPTIONS, AwsClientMixin
from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import (
    Store,
    StoredValue,
    parse_reference_number,
)

# Fixed namespace so the same token written twice uses the same ClientRequestToken (idempotent put).
_REQUEST_TOKEN_NAMESPACE = uuid.UUID("6f1c1a52-3a55-4b0e-9d7e-6b7f1c2a9e01")


# What Secrets Manager accepts: CreateSecret's Name, or the ARN of an existing secret.
_SECRET_NAME = re.compile(
    r"[A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}"
)


class AwsSecretsManagerStore(AwsClientMixin, Store):
    type_name = "aws_secretsmanager"
    service = "secretsmanager"
    argument_spec = {
        # `name` (a name or an ARN), as in community.aws: `secret_id` is the AppRole secret of the Vault store
        "name": {"type": "str", "required": True},
        "key": {"type": "str", "no_log": False},
        "kms_key_id": {"type": "str", "no_log": False},
        "recovery_window_days": {"type": "int", "default": 30},
        **AWS_OPTIONS,
    }

    @property
    def label(self) -> str:
        key = self.options.get("key")
        return f"aws_secretsmanager:{self.options['name']}" + (f"#{key}" if key else "")

    def validate(self) -> None:
        window = self.options.get("recovery_window_days", 30)
        if window != 0 and not 7 <= window <= 30:
            raise self.config_error("recovery_window_days", "must be 0 (delete at once) or between 7 and 30")
        self.check_name(
            "name",
            self.options["name"] or "",
            _SECRET_NAME,
            "1 to 512 of letters, digits and / _ + = . @ -, or a secret's ARN",
            "ksef/erp",
        )
        if self.options.get("key") is not None:
            self.check_key("key", self.options["key"])
        self.aws_validate()

    # -- reading ----------------------------------------------------------------------------------
    def _current(self) -> tuple[str | None, str | None]:
        """(SecretString, VersionId) of AWSCURRENT, or (None, None) when the secret is absent or being deleted."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client().get_secret_value(SecretId=self.options["name"], VersionStage="AWSCURRENT")
        except ClientError as exc:
            if self.aws_error_code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return None, None  # InvalidRequestException: scheduled for deletion
            raise self.aws_failure(exc, "reading the secret") from None
        except BotoCoreError as exc:
            raise self.aws_failure(exc, "reading the secret") from None
        secret_string = response.get("SecretString")
        self.remember_secret(secret_string)
        return secret_string, response.get("VersionId")

    def _mapping(self, secret_string: str | None) -> dict:
        if not secret_string:
            return {}
        try:
            data = json.loads(secret_string)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self.error(f"the secret is not a JSON object, so {self.option_name('key')} cannot be used with it")
        for value in data.values():
            if isinstance(value, str):
                self.remember_secret(value)
        return data

    def _extract(self, secret_string: str | None) -> str | None:
        key = self.options.get("key")
        if not key:
            return secret_string or None
        value = self._mapping(secret_string).get(key)
        return value if isinstance(value, str) and value else None

    def read(self) -> StoredValue | None:
        secret_string, version = self._current()
        value = self._extract(secret_string)
        return self.stored_value(value, version=version) if value else None

    # -- writing ----------------------------------------------------------------------------------
    def _request_token(self, reference_number: str | None) -> str | None:
        if not reference_number:
            return None
        name = f"{self.options['name']}#{self.options.get('key') or ''}#{reference_number}"
        return str(uuid.uuid5(_REQUEST_TOKEN_NAMESPACE, name))

    def _render(self, secret_string: str | None, value: str | None) -> str | None:
        key = self.options.get("key")
        if not key:
            return value
        data = self._mapping(secret_string)
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        return json.dumps(data) if data else None

    def _call(self, doing: str, operation: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(), operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self.aws_failure(exc, doing) from None

    def _undelete_if_scheduled(self) -> bool:
        """True when the secret exists (restored from a scheduled deletion if needed)."""
        from botocore.exceptions import ClientError

        try:
            described = self.client().describe_secret(SecretId=self.options["name"])
        except ClientError as exc:
            if self.aws_error_code(exc) == "ResourceNotFoundException":
                return False
            raise self.aws_failure(exc, "describing the secret") from None
        if described.get("DeletedDate"):
            self._call(
                "restoring the secret from its scheduled deletion", "restore_secret", SecretId=self.options["name"]
            )
        return True

    def _put(self, secret_string: str | None, reference_number: str | None) -> None:
        secret_id = self.options["name"]
        token = self._request_token(reference_number)
        extra = {"ClientRequestToken": token} if token else {}
        if not self._undelete_if_scheduled():
            create = {"Name": secret_id, "SecretString": secret_string, **extra}
            if self.options.get("kms_key_id"):
                create["KmsKeyId"] = self.options["kms_key_id"]
            if self.options.get("tags"):
                create["Tags"] = self.aws_tags()
            self._call("creating the secret", "create_secret", **create)
            return
        response = self._call(
            "writing a new secret version", "put_secret_value", SecretId=secret_id, SecretString=secret_string, **extra
        )
        new_version = response["VersionId"]
        if "AWSCURRENT" not in (response.get("VersionStages") or []):
            # an idempotent replay of an older version: make it current again
            self._move_current_to(new_version)
        if self.options.get("tags"):
            self._call("tagging the secret", "tag_resource", SecretId=secret_id, Tags=self.aws_tags())

    def _move_current_to(self, version_id: str) -> None:
        secret_id = self.options["name"]
        versions = self._call(
            "listing secret versions", "list_secret_version_ids", SecretId=secret_id, IncludeDeprecated=True
        )
        current = next(
            (v["VersionId"] for v in versions.get("Versions", []) if "AWSCURRENT" in v.get("VersionStages", [])), None
        )
        if current == version_id:
            return
        kwargs = {"RemoveFromVersionId": current} if current else {}
        self._call(
            "moving AWSCURRENT",
            "update_secret_version_stage",
            SecretId=secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=version_id,
            **kwargs,
        )

    def write(self, value, meta, expected_version) -> None:
        self.refuse_in_check_mode("write")
        self.remember_secret(value)
        secret_string, version = self._current()
        held = self._extract(secret_string)
        if expected_version is not None and version != expected_version:
            raise self.conflict("AWSCURRENT moved to another version since the secret was read")
        if expected_version is None and held not in (None, value):
            raise self.conflict("the secret gained a value since it was read")
        reference_number = meta.reference_number if meta is not None else None
        self._put(self._render(secret_string, value), reference_number)

    def restore(self, previous: StoredValue | None) -> None:
        self.refuse_in_check_mode("restore")
        if previous is None:
            self.remove()
        elif previous.version:
            self._move_current_to(previous.version)  # AWS hangs AWSPREVIOUS on the version we move away from
        else:
            self._put(self._render(self._current()[0], previous.value), None)

    def remove(self) -> None:
        self.refuse_in_check_mode("remove")
        secret_string, _version_id = self._current()
        if secret_string is None:
            return
        if self.options.get("key"):
            rest = self._render(secret_string, None)
            if rest is not None:
                if rest != secret_string:
                    self._put(rest, None)
                return
        window = self.options.get("recovery_window_days", 30)
        delete = {"ForceDeleteWithoutRecovery": True} if window == 0 else {"RecoveryWindowInDays": window}
        self._call("deleting the secret", "delete_secret", SecretId=self.options["name"], **delete)

    def preflight(self, removing: bool = False) -> None:
        self.aws_preflight("describe_secret", "describing the secret", SecretId=self.options["name"])

    def forget(self, reference_number: str) -> list[str]:
        """AWS keeps the version a write replaced as AWSPREVIOUS. When that version holds the revoked credential,
        the label comes off it: a version without a label is deprecated, and AWS deletes it in time."""
        from botocore.exceptions import ClientError

        secret_id = self.options["name"]
        try:
            previous = self.client().get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS")
        except ClientError as exc:
            if self.aws_error_code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return []  # no previous version (or the secret is gone)
            raise self.aws_failure(exc, "reading the AWSPREVIOUS version") from None
        self.remember_secret(previous.get("SecretString"))
        value = self._extract(previous.get("SecretString"))
        if parse_reference_number(value) != reference_number:
            return []
        self._call(
            "taking AWSPREVIOUS off the version that holds a revoked value",
            "update_secret_version_stage",
            SecretId=secret_id,
            VersionStage="AWSPREVIOUS",
            RemoveFromVersionId=previous["VersionId"],
        )
        return ["took AWSPREVIOUS off version %s of %s" % (previous["VersionId"], self.label)]
