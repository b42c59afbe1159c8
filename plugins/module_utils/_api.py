# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One method per KSeF operation the collection uses, on an authenticated session."""

from __future__ import annotations

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError
from ansible_collections.ksef.credentials.plugins.module_utils._http import response_json

MAX_PAGE_SIZE = 100
MIN_PAGE_SIZE = 10
_MAX_PAGES = 10000  # a guard against a server that never stops paging


class KsefApi:
    """KSeF operations on `session` (a KsefSession). `on_secret(value)` is told every secret read."""

    def __init__(self, http, session, on_secret=None):
        self.http = http
        self.session = session
        self._on_secret = on_secret or (lambda value: None)

    @property
    def calls(self):
        """Requests sent so far, per "METHOD /template"."""
        return dict(sorted(self.http.calls.items()))

    def _call(self, method, path, **kwargs):
        """An authenticated request; a 401 refreshes the access token once and tries again."""
        try:
            return self.http.request(method, path, bearer=self.session.bearer(), **kwargs)
        except KsefApiError as exc:
            if exc.status != 401 or not self.session.can_refresh:
                raise
        self.session.refresh()
        return self.http.request(method, path, bearer=self.session.bearer(), **kwargs)

    def _paged(self, path, items_key, params):
        items: list = []
        continuation, seen = None, set()
        for _attempt in range(_MAX_PAGES):
            headers = {"x-continuation-token": continuation} if continuation else None
            response = self._call("GET", path, params=params, headers=headers)
            body = response_json(response, f"GET {path}")
            items.extend(body.get(items_key) or [])
            continuation = body.get("continuationToken") or response.headers.get("x-continuation-token")
            if not continuation:
                return items
            if continuation in seen:
                raise KsefApiError(
                    f"KSeF repeated a continuation token on GET {path}; stopping to avoid a loop",
                    operation=f"GET {path}",
                )
            seen.add(continuation)
        raise KsefApiError(f"GET {path} returned more than {_MAX_PAGES} pages", operation=f"GET {path}")

    # tokens

    def list_tokens(
        self,
        statuses=None,
        description=None,
        author_identifier=None,
        author_identifier_type=None,
        page_size=MAX_PAGE_SIZE,
    ):
        """Every token of the context matching the filters (all pages)."""
        params = [("pageSize", max(MIN_PAGE_SIZE, min(MAX_PAGE_SIZE, int(page_size))))]
        params += [("status", s) for s in (statuses or [])]
        if description:
            params.append(("description", description))
        if author_identifier:
            params.append(("authorIdentifier", author_identifier))
        if author_identifier_type:
            params.append(("authorIdentifierType", author_identifier_type))
        return self._paged("/tokens", "tokens", params)

    def create_token(self, permissions, description):
        """POST /tokens -> {referenceNumber, token}. The value is registered as a secret at once.

        A dropped connection raises KsefAmbiguousError: the token may exist; reconcile with list_tokens().
        """
        response = self._call("POST", "/tokens", json={"permissions": list(permissions), "description": description})
        body = response_json(response, "POST /tokens")
        self._on_secret(body.get("token"))
        return body

    def get_token(self, reference_number):
        response = self._call("GET", "/tokens/{referenceNumber}", path_params={"referenceNumber": reference_number})
        return response_json(response, "GET /tokens/{referenceNumber}")

    def revoke_token(self, reference_number):
        self._call("DELETE", "/tokens/{referenceNumber}", path_params={"referenceNumber": reference_number})

    # KSeF certificates (of the authenticated subject, not of the context)

    def certificate_limits(self):
        response = self._call("GET", "/certificates/limits")
        return response_json(response, "GET /certificates/limits")

    def certificate_enrollment_data(self):
        """The subject's distinguished name a CSR must carry (from the certificate this session logged in with)."""
        response = self._call("GET", "/certificates/enrollments/data")
        return response_json(response, "GET /certificates/enrollments/data")

    def enroll_certificate(self, name, certificate_type, csr_base64, valid_from=None):
        """POST /certificates/enrollments -> {referenceNumber, timestamp}."""
        body = {"certificateName": name, "certificateType": certificate_type, "csr": csr_base64}
        if valid_from:
            body["validFrom"] = valid_from
        response = self._call("POST", "/certificates/enrollments", json=body)
        return response_json(response, "POST /certificates/enrollments")

    def certificate_enrollment(self, reference_number):
        response = self._call(
            "GET",
            "/certificates/enrollments/{referenceNumber}",
            path_params={"referenceNumber": reference_number},
        )
        return response_json(response, "GET /certificates/enrollments/{referenceNumber}")

    def retrieve_certificates(self, serial_numbers):
        """POST /certificates/retrieve, ten serial numbers per request (the contract's maximum)."""
        found: list = []
        serials = list(serial_numbers)
        for start in range(0, len(serials), 10):
            response = self._call(
                "POST", "/certificates/retrieve", json={"certificateSerialNumbers": serials[start : start + 10]}
            )
            found += response_json(response, "POST /certificates/retrieve").get("certificates") or []
        return found

    def query_certificates(self, name=None, certificate_type=None, status=None, serial_number=None):
        """Every certificate of the subject matching the filters (all pages of POST /certificates/query)."""
        body = {}
        for key, value in (
            ("name", name),
            ("type", certificate_type),
            ("status", status),
            ("certificateSerialNumber", serial_number),
        ):
            if value:
                body[key] = value
        items: list = []
        for offset in range(_MAX_PAGES):
            response = self._call(
                "POST", "/certificates/query", json=body, params=[("pageSize", 50), ("pageOffset", offset)]
            )
            page = response_json(response, "POST /certificates/query")
            items.extend(page.get("certificates") or [])
            if not page.get("hasMore"):
                return items
        raise KsefApiError("POST /certificates/query returned more than %d pages" % _MAX_PAGES)

    def revoke_certificate(self, serial_number, reason="Superseded"):
        self._call(
            "POST",
            "/certificates/{certificateSerialNumber}/revoke",
            path_params={"certificateSerialNumber": serial_number},
            json={"revocationReason": reason},
        )

    # permissions (grants are asynchronous: each answers the reference number of an operation)

    def grant_persons(self, body):
        """POST /permissions/persons/grants -> the operation's reference number."""
        response = self._call("POST", "/permissions/persons/grants", json=body)
        return response_json(response, "POST /permissions/persons/grants")["referenceNumber"]

    def grant_entities(self, body):
        """POST /permissions/entities/grants -> the operation's reference number."""
        response = self._call("POST", "/permissions/entities/grants", json=body)
        return response_json(response, "POST /permissions/entities/grants")["referenceNumber"]

    def grant_indirect(self, body):
        """POST /permissions/indirect/grants -> the operation's reference number."""
        response = self._call("POST", "/permissions/indirect/grants", json=body)
        return response_json(response, "POST /permissions/indirect/grants")["referenceNumber"]

    def grant_authorizations(self, body):
        """POST /permissions/authorizations/grants -> the operation's reference number."""
        response = self._call("POST", "/permissions/authorizations/grants", json=body)
        return response_json(response, "POST /permissions/authorizations/grants")["referenceNumber"]

    def revoke_authorization(self, permission_id):
        """DELETE /permissions/authorizations/grants/{permissionId} -> the operation's reference number."""
        response = self._call(
            "DELETE", "/permissions/authorizations/grants/{permissionId}", path_params={"permissionId": permission_id}
        )
        return response_json(response, "DELETE /permissions/authorizations/grants/{permissionId}")["referenceNumber"]

    def query_authorization_grants(self, query_type="Granted"):
        """Every row of POST /permissions/query/authorizations/grants (all pages of 100), deduplicated by id."""
        rows: dict = {}
        for offset in range(_MAX_PAGES):
            response = self._call(
                "POST",
                "/permissions/query/authorizations/grants",
                json={"queryType": query_type},
                params=[("pageOffset", offset), ("pageSize", MAX_PAGE_SIZE)],
            )
            page = response_json(response, "POST /permissions/query/authorizations/grants")
            for row in page.get("authorizationGrants") or []:
                rows.setdefault(row.get("id"), row)
            if not page.get("hasMore"):
                return list(rows.values())
        raise KsefApiError("POST /permissions/query/authorizations/grants returned more than %d pages" % _MAX_PAGES)

    def grant_subunits(self, body):
        """POST /permissions/subunits/grants -> the operation's reference number."""
        response = self._call("POST", "/permissions/subunits/grants", json=body)
        return response_json(response, "POST /permissions/subunits/grants")["referenceNumber"]

    def query_subunit_grants(self):
        """Every row of POST /permissions/query/subunits/grants (all pages of 100), deduplicated by id."""
        rows: dict = {}
        for offset in range(_MAX_PAGES):
            response = self._call(
                "POST",
                "/permissions/query/subunits/grants",
                json={},
                params=[("pageOffset", offset), ("pageSize", MAX_PAGE_SIZE)],
            )
            page = response_json(response, "POST /permissions/query/subunits/grants")
            for row in page.get("permissions") or []:
                rows.setdefault(row.get("id"), row)
            if not page.get("hasMore"):
                return list(rows.values())
        raise KsefApiError("POST /permissions/query/subunits/grants returned more than %d pages" % _MAX_PAGES)

    def grant_eu_administration(self, body):
        """POST /permissions/eu-entities/administration/grants -> the operation's reference number."""
        response = self._call("POST", "/permissions/eu-entities/administration/grants", json=body)
        return response_json(response, "POST /permissions/eu-entities/administration/grants")["referenceNumber"]

    def grant_eu_representatives(self, body):
        """POST /permissions/eu-entities/grants (in a NipVatUe context) -> the operation's reference number."""
        response = self._call("POST", "/permissions/eu-entities/grants", json=body)
        return response_json(response, "POST /permissions/eu-entities/grants")["referenceNumber"]

    def query_eu_entity_grants(self):
        """Every row of POST /permissions/query/eu-entities/grants (all pages of 100), deduplicated by id."""
        rows: dict = {}
        for offset in range(_MAX_PAGES):
            response = self._call(
                "POST",
                "/permissions/query/eu-entities/grants",
                json={},
                params=[("pageOffset", offset), ("pageSize", MAX_PAGE_SIZE)],
            )
            page = response_json(response, "POST /permissions/query/eu-entities/grants")
            for row in page.get("permissions") or []:
                rows.setdefault(row.get("id"), row)
            if not page.get("hasMore"):
                return list(rows.values())
        raise KsefApiError("POST /permissions/query/eu-entities/grants returned more than %d pages" % _MAX_PAGES)

    def revoke_grant(self, permission_id):
        """DELETE /permissions/common/grants/{permissionId} -> the operation's reference number."""
        response = self._call(
            "DELETE", "/permissions/common/grants/{permissionId}", path_params={"permissionId": permission_id}
        )
        return response_json(response, "DELETE /permissions/common/grants/{permissionId}")["referenceNumber"]

    def permission_operation(self, reference_number):
        """GET /permissions/operations/{referenceNumber} -> its status {code, description, details}."""
        response = self._call(
            "GET", "/permissions/operations/{referenceNumber}", path_params={"referenceNumber": reference_number}
        )
        return response_json(response, "GET /permissions/operations/{referenceNumber}").get("status") or {}

    def query_person_grants(self, query_type="PermissionsInCurrentContext", **filters):
        """Every row of POST /permissions/query/persons/grants (all pages of 100), deduplicated by id: offset
        paging over a list that changes can repeat a row."""
        body = dict(filters, queryType=query_type)
        rows: dict = {}
        for offset in range(_MAX_PAGES):
            response = self._call(
                "POST",
                "/permissions/query/persons/grants",
                json=body,
                params=[("pageOffset", offset), ("pageSize", MAX_PAGE_SIZE)],
            )
            page = response_json(response, "POST /permissions/query/persons/grants")
            for row in page.get("permissions") or []:
                rows.setdefault(row.get("id"), row)
            if not page.get("hasMore"):
                return list(rows.values())
        raise KsefApiError("POST /permissions/query/persons/grants returned more than %d pages" % _MAX_PAGES)

    # authentication sessions

    def list_sessions(self):
        """Active authentication sessions of the context (all pages)."""
        return self._paged("/auth/sessions", "items", [("pageSize", MAX_PAGE_SIZE)])

    def close_current_session(self):
        """DELETE /auth/sessions/current for the session this API object uses."""
        self.session.close()

    def close_session(self, reference_number):
        self._call("DELETE", "/auth/sessions/{referenceNumber}", path_params={"referenceNumber": reference_number})

    # security

    def public_key_certificates(self):
        response = self.http.request("GET", "/security/public-key-certificates")
        return response_json(response, "GET /security/public-key-certificates")
