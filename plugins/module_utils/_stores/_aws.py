# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the AWS stores share: a lazily imported boto3, one client per store, and error texts without secrets."""

from __future__ import annotations

import os
import re

from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import Store
from ansible_collections.ksef.credentials.plugins.module_utils._text import has_space_or_unprintable

# What botocore builds a host name from: eu-central-1, us-gov-west-1, cn-north-1...
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")

AWS_OPTIONS = {
    "region": {"type": "str"},
    "endpoint_url": {"type": "str"},
    "profile": {"type": "str"},
    "access_key": {"type": "str", "no_log": True},
    "secret_key": {"type": "str", "no_log": True},
    "session_token": {"type": "str", "no_log": True},
    "aws_ca_bundle": {"type": "path", "no_log": False},
    "tags": {"type": "dict"},
}

# Error codes that mean our credentials or their IAM policy, not the service.
_CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "ExpiredToken",
}
_PERMISSION_CODES = {"AccessDenied", "AccessDeniedException"}
IAM_POLICY_DOC = "docs/stores.md#the-aws-iam-policy"


def import_boto3(store: Store):
    """boto3, or StoreConfigError with ansible's standard missing-library message."""
    try:
        import boto3
        import botocore  # noqa: F401  (boto3's own dependency; both must import)
    except ImportError:
        from ansible.module_utils.basic import missing_required_lib

        raise store.config_error("type", missing_required_lib("boto3")) from None
    return boto3


class AwsClientMixin(Store):
    """Builds the boto3 client for `service` from the store's region/endpoint_url/profile options."""

    service: str

    def aws_validate(self) -> None:
        boto3 = import_boto3(self)
        from botocore.exceptions import BotoCoreError

        keys = {name: self.options.get(name) for name in ("access_key", "secret_key", "session_token")}
        pairs = (("access_key", "secret_key"), ("secret_key", "access_key"), ("session_token", "access_key"))
        for given, needs in pairs:
            if keys[given] and not keys[needs]:
                raise self.config_error(needs, f"is required with {given}")
        if keys["access_key"] and self.options.get("profile"):
            raise self.config_error("profile", "and access_key exclude each other; give one source of credentials")
        for secret in keys.values():
            self.remember_secret(secret)
        ca_bundle = self.options.get("aws_ca_bundle")
        if ca_bundle and not os.path.isfile(ca_bundle):
            raise self.config_error("aws_ca_bundle", f"file {ca_bundle} does not exist")
        try:
            session = boto3.session.Session(
                aws_access_key_id=keys["access_key"] or None,
                aws_secret_access_key=keys["secret_key"] or None,
                aws_session_token=keys["session_token"] or None,
                profile_name=self.options.get("profile") or None,
                # boto3 itself reads only AWS_DEFAULT_REGION; AWS_REGION is what the AWS CLI v2 and the other SDKs
                # read first (and what an AWX credential injects).
                region_name=self.options.get("region") or os.environ.get("AWS_REGION") or None,
            )
        except BotoCoreError as exc:  # ProfileNotFound and friends name the profile, nothing secret
            raise self.config_error("profile", str(exc)) from None
        if not session.region_name:
            raise self.config_error("region", "is required (or set AWS_REGION, or a region in the profile)")
        if not _REGION.fullmatch(session.region_name):
            raise self.config_error(
                "region", "must be an AWS region such as eu-central-1; got %r" % session.region_name[:60]
            )
        for option in ("kms_key_id", "key_id", "profile"):
            value = self.options.get(option)
            if value is not None and (not value.strip() or has_space_or_unprintable(value)):
                raise self.config_error(
                    option, "must be one word with no space or control character; got %r" % value[:60]
                )
        endpoint = self.options.get("endpoint_url")
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise self.config_error("endpoint_url", "must start with http:// or https://")
        self._session = session

    def client(self):
        if getattr(self, "_client", None) is None:
            self._client = self._session.client(
                self.service,
                endpoint_url=self.options.get("endpoint_url") or None,
                verify=self.options.get("aws_ca_bundle") or None,  # None: AWS_CA_BUNDLE or the system's
            )
        return self._client

    def aws_preflight(self, operation: str, doing: str, **kwargs) -> None:
        """Reads that tell, without writing, whether the credentials work and reach this resource: STS's
        GetCallerIdentity (no permission needed), then one describe call of the service. AWS has no dry run of
        a write; a write refused later is undone like any failed write (the new credential is revoked)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._session.client(
                "sts",
                endpoint_url=self.options.get("endpoint_url") or None,
                verify=self.options.get("aws_ca_bundle") or None,
            ).get_caller_identity()
            getattr(self.client(), operation)(**kwargs)
        except ClientError as exc:
            if self.aws_error_code(exc) not in ("ResourceNotFoundException", "ParameterNotFound"):
                raise self.aws_failure(exc, doing) from None
        except BotoCoreError as exc:
            raise self.aws_failure(exc, doing) from None

    def aws_error_code(self, exc) -> str:
        return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")

    def aws_failure(self, exc, doing: str):
        """A StoreError for a botocore exception that says whether the problem is ours (credentials, TLS, IAM
        permissions) or AWS's answer; AWS's text is masked for known secrets."""
        from botocore.exceptions import (
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            SSLError,
        )

        code = self.aws_error_code(exc)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return self.local_error(
                "credentials",
                "no usable AWS credentials for %s (%s): set access_key and secret_key, or profile, or the AWS_* "
                "environment variables, or give the host an IAM role" % (doing, exc),
            )
        if isinstance(exc, SSLError):
            hint = "set aws_ca_bundle (or AWS_CA_BUNDLE) to the CA of the endpoint"
            return self.local_error("TLS", self.scrub("%s: %s; %s" % (doing, exc, hint)))
        if isinstance(exc, EndpointConnectionError):
            return self.server_error(self.scrub("cannot reach AWS for %s: %s" % (doing, exc)))
        response = getattr(exc, "response", None) or {}
        message = " ".join(str(response.get("Error", {}).get("Message", "")).split())[:500]
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if code.isdigit():  # an error body botocore could not read: the status and any <Code> in it
            found = re.search(r"<Code>([^<]+)</Code>", message)
            code = found.group(1) if found else ("AccessDenied" if status == 403 else code)
            found = re.search(r"<Message>([^<]+)</Message>", message)
            message = found.group(1) if found else message
        if code in _CREDENTIAL_CODES:
            return self.local_error(
                "credentials", self.scrub("AWS did not accept the credentials for %s: %s: %s" % (doing, code, message))
            )
        if code in _PERMISSION_CODES:
            return self.local_error(
                "permissions",
                self.scrub(
                    "the IAM policy does not allow %s: %s: %s; the policy the store needs is in %s"
                    % (doing, code, message, IAM_POLICY_DOC)
                ),
            )
        if code:
            return self.server_error(self.scrub("AWS answered %s to %s: %s" % (code, doing, message)))
        return self.server_error(self.scrub("%s failed: %s: %s" % (doing, type(exc).__name__, exc)))

    def aws_tags(self, key_name: str = "Key", value_name: str = "Value") -> list[dict]:
        return [{key_name: str(k), value_name: str(v)} for k, v in (self.options.get("tags") or {}).items()]
