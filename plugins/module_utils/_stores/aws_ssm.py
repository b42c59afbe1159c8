# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `aws_ssm` store: an AWS Systems Manager Parameter Store SecureString parameter.

SSM has no compare-and-set, so a write reads the parameter's version first and refuses when it
is no longer the version the caller read; the window between that check and the put is small
but not zero.
"""

from __future__ import annotations

import re

from ansible_collections.ksef.credentials.plugins.module_utils._stores._aws import AWS_OPTIONS, AwsClientMixin
from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import Store, StoredValue

# The names PutParameter accepts: one plain name, or a hierarchy of them under /.
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.-]+|(/[A-Za-z0-9_.-]+)+")


class AwsSsmStore(AwsClientMixin, Store):
    type_name = "aws_ssm"
    service = "ssm"
    argument_spec = {
        "name": {"type": "str", "required": True},
        "key_id": {"type": "str", "no_log": False},
        **AWS_OPTIONS,
    }

    @property
    def label(self) -> str:
        return f"aws_ssm:{self.options['name']}"

    def validate(self) -> None:
        name = self.options["name"] or ""
        self.check_name(
            "name", name, _PARAMETER_NAME, "letters, digits and _ . - (a hierarchy starts with /)", "/ksef/erp/token"
        )
        if len(name) > 1011 or name.count("/") > 15:
            raise self.config_error("name", "must be at most 1011 characters and 15 levels deep (AWS's limits)")
        if name.lstrip("/").lower().startswith(("aws", "ssm")):
            raise self.config_error("name", "must not begin with aws or ssm (AWS reserves them)")
        self.aws_validate()

    def _call(self, doing: str, operation: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(), operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            if self.aws_error_code(exc) == "ParameterNotFound":
                return None
            if self.aws_error_code(exc) == "ParameterAlreadyExists":
                raise self.conflict("the parameter was created by another writer since it was read") from None
            raise self.aws_failure(exc, doing) from None

    def _current(self) -> tuple[str | None, str | None, str | None]:
        """(value, version, type) of the parameter, or (None, None, None) when it is absent."""
        response = self._call("reading the parameter", "get_parameter", Name=self.options["name"], WithDecryption=True)
        if response is None:
            return None, None, None
        parameter = response["Parameter"]
        self.remember_secret(parameter.get("Value"))
        return parameter.get("Value"), str(parameter.get("Version")), parameter.get("Type")

    def read(self) -> StoredValue | None:
        value, version, _parameter_type = self._current()
        return self.stored_value(value, version=version) if value else None

    def _put(self, value: str, exists: bool) -> None:
        put = {"Name": self.options["name"], "Value": value, "Type": "SecureString", "Overwrite": exists}
        if self.options.get("key_id"):
            put["KeyId"] = self.options["key_id"]
        if self.options.get("tags") and not exists:
            put["Tags"] = self.aws_tags()  # SSM accepts Tags only when creating
        self._call("writing the parameter", "put_parameter", **put)
        if self.options.get("tags") and exists:
            self._call(
                "tagging the parameter",
                "add_tags_to_resource",
                ResourceType="Parameter",
                ResourceId=self.options["name"],
                Tags=self.aws_tags(),
            )

    def write(self, value, meta, expected_version) -> None:
        self.refuse_in_check_mode("write")
        self.remember_secret(value)
        held, version, kind = self._current()
        if version != expected_version and not (expected_version is None and held == value):
            raise self.conflict(f"the parameter is at version {version}, expected {expected_version}")
        if kind not in (None, "SecureString"):
            raise self.error(f"the parameter exists as {kind}; a token needs a SecureString parameter")
        self._put(value, exists=version is not None)

    def restore(self, previous: StoredValue | None) -> None:
        self.refuse_in_check_mode("restore")
        if previous is None:
            self.remove()
        else:
            _value, version, _parameter_type = self._current()
            self._put(previous.value, exists=version is not None)

    def remove(self) -> None:
        self.refuse_in_check_mode("remove")
        self._call("deleting the parameter", "delete_parameter", Name=self.options["name"])

    def preflight(self, removing: bool = False) -> None:
        self.aws_preflight(
            "describe_parameters",
            "describing the parameter",
            ParameterFilters=[{"Key": "Name", "Values": [self.options["name"]]}],
        )
