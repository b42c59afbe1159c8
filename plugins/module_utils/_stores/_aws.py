# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the AWS stores share: a lazily imported boto3, one client per store, and error texts without secrets."""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils._stores._base import Store

AWS_OPTIONS = {
    "region": {"type": "str"},
    "endpoint_url": {"type": "str"},
    "profile": {"type": "str"},
    "tags": {"type": "dict"},
}


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

        try:
            session = boto3.session.Session(
                profile_name=self.options.get("profile") or None, region_name=self.options.get("region") or None
            )
        except BotoCoreError as exc:  # ProfileNotFound and friends name the profile, nothing secret
            raise self.config_error("profile", str(exc)) from None
        if not session.region_name:
            raise self.config_error("region", "is required (or set AWS_REGION, or a region in the profile)")
        endpoint = self.options.get("endpoint_url")
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise self.config_error("endpoint_url", "must start with http:// or https://")
        self._session = session

    def client(self):
        if getattr(self, "_client", None) is None:
            self._client = self._session.client(self.service, endpoint_url=self.options.get("endpoint_url") or None)
        return self._client

    def aws_error_code(self, exc) -> str:
        return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")

    def aws_failure(self, exc, doing: str):
        """A StoreError for a botocore exception: error code and AWS's message, masked for known secrets."""
        code = self.aws_error_code(exc)
        if code:
            text = f"{code}: {(exc.response.get('Error') or {}).get('Message', '')}"
        else:  # botocore's own errors (no credentials, endpoint unreachable) say what is missing, not a value
            text = f"{type(exc).__name__}: {exc}"
        return self.error(self.scrub(f"AWS refused {doing}: {text}"))

    def aws_tags(self, key_name: str = "Key", value_name: str = "Value") -> list[dict]:
        return [{key_name: str(k), value_name: str(v)} for k, v in (self.options.get("tags") or {}).items()]
