"""The permission API over HTTP (uprawnienia.md): grants, revokes, operation status, queries, and their effect on
logging in and on KSeF tokens; plus the control API that steers permission operations.

One shared emulator (tests/conftest.py); each test works in contexts of its own.
"""
from __future__ import annotations

import time

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from ksef_client import KsefClient, KsefClientOptions, models
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
from signxml.xades import XAdESSigner

from ksef_emulator import identifiers, testcerts
from ksef_emulator.contract import contract
from ksef_emulator.routes import permissions as permission_routes

PERSON = {"subjectDetailsType": "PersonByIdentifier", "personById": {"firstName": "Jan", "lastName": "Kowalski"}}
ENTITY = {"fullName": "Biuro Rachunkowe sp. z o.o."}
EU_PERSON = {"subjectDetailsType": "PersonByFingerprintWithoutIdentifier",
             "personByFpNoId": {"firstName": "Hans", "lastName": "Muller", "birthDate": "1980-01-31",
                                "idDocument": {"type": "Passport", "number": "C01X00T47", "country": "DE"}}}
FINGERPRINT = "CEB3643BAC2C111ADDE971BDA5A80163441867D65389FC0BC0DFF8B4C1CD4E59"


def sign(files: testcerts.CertificateFiles, challenge: str, ctx_type: str, ctx_value: str,
         subject: str = "certificateSubject") -> bytes:
    xml = (f'<?xml version="1.0" encoding="utf-8"?><AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">'
           f'<Challenge>{challenge}</Challenge><ContextIdentifier><{ctx_type}>{ctx_value}</{ctx_type}>'
           f'</ContextIdentifier><SubjectIdentifierType>{subject}</SubjectIdentifierType>'
           '</AuthTokenRequest>').encode()
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    signer = XAdESSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                         digest_algorithm=DigestAlgorithm.SHA256,
                         c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1)
    return etree.tostring(signer.sign(etree.fromstring(xml), key=key, cert=[cert]))


_clients: dict[str, httpx.Client] = {}


@pytest.fixture(scope="module", autouse=True)
def _quick_operations(emulator):
    """Operations end after 0.05 s in this file (the tests that must see 100 set an hour, or hold them)."""
    previous = emulator.admin("GET", "config").json()["permission_delay"]
    emulator.admin("PUT", "config", json={"permission_delay": 0.05}).raise_for_status()
    yield
    emulator.admin("PUT", "config", json={"permission_delay": previous}).raise_for_status()


@pytest.fixture(scope="module", autouse=True)
def _keep_alive_clients():
    """One keep-alive client per emulator for the file (a client per request costs ~50 ms on a loaded machine)."""
    yield
    for client in _clients.values():
        client.close()
    _clients.clear()


class Api:
    """The permission calls of one logged-in session, with polling to a final status."""

    def __init__(self, ksef, headers: dict):
        self.ksef, self.headers = ksef, headers
        if ksef.emu.api_url not in _clients:
            _clients[ksef.emu.api_url] = httpx.Client(base_url=ksef.emu.api_url + "/", timeout=30)
        self.http = _clients[ksef.emu.api_url]

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)

    def post(self, path: str, body: dict, **params):
        return self.call("POST", path, json=body, params=params)

    def grant(self, kind: str, body: dict) -> str:
        r = self.post(f"permissions/{kind}/grants", body)
        assert r.status_code == 202, r.text
        assert set(r.json()) == {"referenceNumber"}  # no permissionId in a grant's answer
        return r.json()["referenceNumber"]

    def status(self, reference: str) -> dict:
        r = self.call("GET", f"permissions/operations/{reference}")
        assert r.status_code == 200, r.text
        return r.json()["status"]

    def wait(self, reference: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(reference)
            if status["code"] != 100 or time.monotonic() > deadline:
                return status
            time.sleep(0.05)

    def granted(self, kind: str, body: dict) -> dict:
        return self.wait(self.grant(kind, body))

    def revoke(self, permission_id: str, kind: str = "common") -> dict:
        r = self.call("DELETE", f"permissions/{kind}/grants/{permission_id}")
        assert r.status_code == 202, r.text
        return self.wait(r.json()["referenceNumber"])

    def query(self, kind: str, body: dict | None = None, key: str = "permissions", **params) -> list[dict]:
        r = self.post(f"permissions/query/{kind}/grants", body or {}, **params)
        assert r.status_code == 200, r.text
        return r.json()[key]

    def persons(self, query_type: str = "PermissionsInCurrentContext", **filters) -> list[dict]:
        return self.query("persons", {"queryType": query_type, **filters})


def person_grant(pesel: str, permissions: list[str], description: str = "Księgowa działu płac") -> dict:
    return {"subjectIdentifier": {"type": "Pesel", "value": pesel}, "permissions": permissions,
            "description": description, "subjectDetails": PERSON}


def entity_grant(nip: str, permissions: list[tuple[str, bool]]) -> dict:
    return {"subjectIdentifier": {"type": "Nip", "value": nip}, "description": "Biuro rachunkowe klienta",
            "permissions": [{"type": p, "canDelegate": d} for p, d in permissions], "subjectDetails": ENTITY}


@pytest.fixture
def owner(ksef, nip) -> Api:
    return Api(ksef, ksef.owner_login(nip).headers)


@pytest.fixture
def xades(ksef, tmp_path):
    """Log in with a self-signed certificate (the subject's identifier in it) to a context: (code, headers)."""

    def login(files, ctx_value, ctx_type="Nip", subject="certificateSubject"):
        challenge = ksef.challenge()["challenge"]
        r = ksef.emu.api("POST", "auth/xades-signature", content=sign(files, challenge, ctx_type, ctx_value, subject),
                         headers={"Content-Type": "application/xml"})
        assert r.status_code == 202, r.text
        auth = r.json()["authenticationToken"]["token"]
        status = ksef.wait_status(r.json()["referenceNumber"], auth)
        if status["status"]["code"] != 200:
            return status["status"]["code"], None
        tokens = ksef.emu.api("POST", "auth/token/redeem", headers={"Authorization": f"Bearer {auth}"}).json()
        login.refresh_token = tokens["refreshToken"]["token"]
        return 200, {"Authorization": f"Bearer {tokens['accessToken']['token']}"}

    login.cert = lambda **kw: testcerts.generate_certificate(tmp_path, **kw)
    return login


def test_person_grant_is_asynchronous_one_row_per_scope_and_revocable(ksef, owner, nip):
    pesel = testcerts.random_pesel()
    with ksef.settings(permission_delay=3600):
        reference = owner.grant("persons", person_grant(pesel, ["InvoiceRead", "InvoiceWrite"]))
    assert reference.split("-")[1] == "EG"
    assert owner.status(reference) == {"code": 100, "description": "Operacja przyjęta do realizacji"}
    assert owner.persons() == []  # nothing in force before the operation ends
    assert ksef.emu.admin("POST", f"permissions/operations/{reference}/finish", json={"code": 200}).status_code == 200
    assert owner.status(reference)["code"] == 200
    rows = owner.persons()
    assert sorted(r["permissionScope"] for r in rows) == ["InvoiceRead", "InvoiceWrite"]
    assert len({r["id"] for r in rows}) == 2 and all(len(r["id"]) == 36 for r in rows)
    row = rows[0]
    assert row["authorizedIdentifier"] == {"type": "Pesel", "value": pesel}
    assert row["contextIdentifier"] == {"type": "Nip", "value": nip}
    assert row["authorIdentifier"] == {"type": "Nip", "value": nip}
    assert row["subjectPersonDetails"] == {"subjectDetailsType": "PersonByIdentifier", "firstName": "Jan",
                                           "lastName": "Kowalski"}
    assert row["permissionState"] == "Active" and row["canDelegate"] is False
    assert [r["id"] for r in owner.persons("PermissionsGrantedInCurrentContext")] == [r["id"] for r in rows]
    # a duplicate grant ends 200 and changes nothing (uprawnienia.md leaves it open; the emulator ignores it)
    assert owner.granted("persons", person_grant(pesel, ["InvoiceRead"], "Inny opis tego samego"))["code"] == 200
    assert sorted(r["id"] for r in owner.persons()) == sorted(r["id"] for r in rows)
    # revoking one scope leaves the other
    assert owner.revoke(row["id"])["code"] == 200
    assert [r["id"] for r in owner.persons()] == [rows[1]["id"]]
    # a revoke of an id this context does not know fails in its operation
    failed = owner.revoke(row["id"])
    assert failed["code"] == 400 and row["id"] in failed["details"][0]


def test_grant_input_and_required_permissions(ksef, owner, nip):
    pesel = testcerts.random_pesel()
    bad = [
        {**person_grant(pesel, ["InvoiceRead"]), "description": "abcd"},
        {k: v for k, v in person_grant(pesel, ["InvoiceRead"]).items() if k != "subjectDetails"},
        {**person_grant(pesel, ["InvoiceRead"]), "subjectDetails": EU_PERSON},  # fingerprint details for a PESEL
        person_grant(pesel, []),
        person_grant(pesel, ["Owner"]),
        person_grant(pesel, ["InvoiceRead", "InvoiceRead"]),  # "each value may appear only once"
        {**person_grant(pesel, ["InvoiceRead"]), "subjectIdentifier": {"type": "Pesel", "value": "123"}},
    ]
    for body in bad:
        r = owner.post("permissions/persons/grants", body)
        assert r.status_code == 400 and ksef.codes(r) == [21405], body
    r = owner.post("permissions/persons/grants", {**person_grant(pesel, ["InvoiceRead"]), "description": "x" * 257})
    assert r.status_code == 400
    reader = Api(ksef, ksef.owner_login(nip, ["InvoiceRead"]).headers)
    r = reader.post("permissions/persons/grants", person_grant(pesel, ["InvoiceRead"]))
    assert r.status_code == 403 and r.json()["security"]["requiredAnyOfPermissions"] == ["CredentialsManage"]
    r = reader.post("permissions/query/persons/grants", {"queryType": "PermissionsInCurrentContext"})
    assert r.status_code == 403
    assert reader.query("personal") == []  # the owner's own rights are never listed
    for params in ({"pageSize": 9}, {"pageSize": 101}, {"pageOffset": -1}):
        r = owner.post("permissions/query/persons/grants", {"queryType": "PermissionsInCurrentContext"}, **params)
        assert r.status_code == 400 and ksef.codes(r) == [21405], params
    assert owner.post("permissions/query/persons/grants", {}).status_code == 400  # queryType is required
    # the Owner cannot be granted anything; EnforcementOperations needs a bailiff or enforcement-authority context
    own = {**person_grant(pesel, ["InvoiceRead"]), "subjectIdentifier": {"type": "Nip", "value": nip}}
    assert owner.granted("persons", own)["code"] == 450
    assert owner.granted("persons", person_grant(pesel, ["EnforcementOperations"]))["code"] == 430
    assert owner.persons() == []


def test_grants_take_effect_on_login_and_tokens(ksef, owner, nip, xades):
    pesel = testcerts.random_pesel()
    files = xades.cert(pesel=pesel)
    assert xades(files, nip)[0] == 415
    assert owner.granted("persons", person_grant(pesel, ["InvoiceRead", "CredentialsManage"]))["code"] == 200
    code, headers = xades(files, nip)
    assert code == 200
    person = Api(ksef, headers)
    assert sorted(r["permissionScope"] for r in person.query("personal")) == ["CredentialsManage", "InvoiceRead"]
    r = ksef.emu.api("POST", "tokens", headers=headers, json={"permissions": ["InvoiceWrite"],
                                                              "description": "Token bez uprawnień"})
    assert r.status_code == 400 and ksef.codes(r) == [26001]
    r = ksef.emu.api("POST", "tokens", headers=headers, json={"permissions": ["InvoiceRead", "CredentialsManage"],
                                                              "description": "Token pracownika"})
    assert r.status_code == 202, r.text
    token_ref = r.json()["referenceNumber"]
    manage = next(r for r in owner.persons() if r["permissionScope"] == "CredentialsManage")
    assert owner.revoke(manage["id"])["code"] == 200
    # the same session may no longer mint a token with the lost permission
    r = ksef.emu.api("POST", "tokens", headers=headers, json={"permissions": ["CredentialsManage"],
                                                              "description": "Token po odebraniu"})
    assert r.status_code == 400 and ksef.codes(r) == [26001]
    # the token carrying it is revoked ("tokeny są automatycznie unieważniane w przypadku utraty uprawnień")
    status = ksef.emu.api("GET", f"tokens/{token_ref}", headers=owner.headers).json()["status"]
    assert status in ("Revoking", "Revoked")
    refresh = {"Authorization": f"Bearer {xades.refresh_token}"}
    assert ksef.emu.api("POST", "auth/token/refresh", headers=refresh).status_code == 200
    read = next(r for r in owner.persons() if r["permissionScope"] == "InvoiceRead")
    assert owner.revoke(read["id"])["code"] == 200
    assert xades(files, nip)[0] == 415
    # the open session ends with the last permission: its refresh token no longer works
    r = ksef.emu.api("POST", "auth/token/refresh", headers=refresh)
    assert r.status_code == 400 and ksef.codes(r) == [21301]


def test_entity_delegation_and_indirect_grants(ksef, nip, fresh_nip, xades):
    client = Api(ksef, ksef.owner_login(nip).headers)
    office_nip, other_client = fresh_nip(), fresh_nip()
    office = Api(ksef, ksef.owner_login(office_nip).headers)
    assert client.granted("entities", entity_grant(office_nip, [("InvoiceRead", True), ("InvoiceWrite", False)]))[
        "code"] == 200
    rows = client.persons(authorizedIdentifier={"type": "Nip", "value": office_nip})
    assert {(r["permissionScope"], r["canDelegate"]) for r in rows} == {("InvoiceRead", True), ("InvoiceWrite", False)}
    assert rows[0]["subjectEntityDetails"] == {"subjectDetailsType": "EntityByIdentifier",
                                               "fullName": ENTITY["fullName"]}
    received = office.query("entities")
    assert {(r["contextIdentifier"]["value"], r["permissionScope"]) for r in received} == {
        (nip, "InvoiceRead"), (nip, "InvoiceWrite")}
    # the office itself works in the client's context now (a company seal with its NIP)
    assert xades(xades.cert(nip=office_nip, kind="seal"), nip)[0] == 200
    pesel = testcerts.random_pesel()
    staff = xades.cert(pesel=pesel)
    selective = {**person_grant(pesel, ["InvoiceRead"]), "targetIdentifier": {"type": "Nip", "value": nip}}
    assert office.granted("indirect", selective)["code"] == 200
    # InvoiceWrite came without canDelegate, and the other client delegated nothing
    assert office.granted("indirect", {**selective, "permissions": ["InvoiceWrite"]})["code"] == 440
    elsewhere = {**selective, "targetIdentifier": {"type": "Nip", "value": other_client}}
    assert office.granted("indirect", elsewhere)["code"] == 440
    mine = office.persons("PermissionsGrantedInCurrentContext")
    assert [(r["targetIdentifier"], r["permissionScope"], r["permissionState"]) for r in mine] == [
        ({"type": "Nip", "value": nip}, "InvoiceRead", "Active")]
    code, staff_headers = xades(staff, nip)
    assert code == 200
    r = ksef.emu.api("POST", "tokens", headers=staff_headers, json={"permissions": ["InvoiceRead"],
                                                                    "description": "Token pracownika biura"})
    assert r.status_code == 202, r.text
    staff_token = r.json()["referenceNumber"]
    # the client withdraws the delegation: the staff grant stays listed, Inactive, and gives nothing (ksef-api#370)
    read = next(r for r in rows if r["permissionScope"] == "InvoiceRead")
    assert client.revoke(read["id"])["code"] == 200
    token = ksef.emu.api("GET", f"tokens/{staff_token}", headers=client.headers).json()
    assert token["status"] in ("Revoking", "Revoked")  # the token the staff made with that right goes too
    assert office.persons(permissionState="Inactive")[0]["id"] == mine[0]["id"]
    assert office.persons(permissionState="Active") == []
    assert xades(staff, nip)[0] == 415


def test_subunit_and_eu_administrator_create_their_contexts(ksef, owner, nip, xades):
    pesel = testcerts.random_pesel()
    unit = identifiers.internal_id(nip, 4321)
    body = {"subjectIdentifier": {"type": "Pesel", "value": pesel}, "description": "Administrator oddziału",
            "contextIdentifier": {"type": "InternalId", "value": unit}, "subunitName": "Oddział Kraków",
            "subjectDetails": PERSON}
    wrong_digit = unit[:-1] + str((int(unit[-1]) + 1) % 10)
    wrong = {"type": "InternalId", "value": wrong_digit}
    r = owner.post("permissions/subunits/grants", {**body, "contextIdentifier": wrong})
    assert r.status_code == 400 and ksef.codes(r) == [21405]
    r = owner.post("permissions/subunits/grants", {k: v for k, v in body.items() if k != "subunitName"})
    assert r.status_code == 400
    assert owner.granted("subunits", body)["code"] == 200
    [row] = owner.query("subunits")
    assert row["subunitIdentifier"] == {"type": "InternalId", "value": unit}
    assert row["permissionScope"] == "CredentialsManage" and row["subunitName"] == "Oddział Kraków"
    assert owner.query("subunits", {"subunitIdentifier": {"type": "InternalId", "value": wrong_digit}}) == []
    code, headers = xades(xades.cert(pesel=pesel), unit, "InternalId")
    assert code == 200
    assert [r["permissionScope"] for r in Api(ksef, headers).query("personal")] == ["CredentialsManage"]
    # a subordinate NIP needs a parent role (LocalGovernmentUnit, VatGroupUnit)
    assert owner.granted("subunits", {**body, "contextIdentifier": {"type": "Nip", "value": nip}})["code"] == 430

    eu = {"subjectIdentifier": {"type": "Fingerprint", "value": FINGERPRINT.lower()},
          "contextIdentifier": {"type": "NipVatUe", "value": f"{nip}-DE123456789"},
          "description": "Administrator podmiotu unijnego", "euEntityName": "Muller GmbH, Berlin",
          "subjectDetails": EU_PERSON, "euEntityDetails": {"fullName": "Muller GmbH", "address": "Berlin"}}
    other = {**eu, "contextIdentifier": {"type": "NipVatUe", "value": "5265877635-DE123456789"}}
    assert owner.granted("eu-entities/administration", other)["code"] == 410
    assert owner.granted("eu-entities/administration", eu)["code"] == 200
    rows = owner.query("eu-entities", {"vatUeIdentifier": "DE123456789"})
    scopes = ["Introspection", "InvoiceRead", "InvoiceWrite", "VatUeManage"]
    assert sorted(r["permissionScope"] for r in rows) == scopes
    assert rows[0]["authorizedFingerprintIdentifier"] == FINGERPRINT
    assert rows[0]["subjectPersonDetails"]["idDocument"]["country"] == "DE"
    representative = {"subjectIdentifier": {"type": "Fingerprint", "value": "AB" * 32}, "permissions": ["InvoiceRead"],
                      "description": "Reprezentant podmiotu unijnego", "subjectDetails": EU_PERSON}
    r = owner.post("permissions/eu-entities/grants", representative)
    assert r.status_code == 403  # VatUeManage is held only inside the NipVatUe context

    # the administrator (a certificate without NIP or PESEL, known by its fingerprint) works in the new context
    files = xades.cert(identifier=False)
    fingerprint = x509.load_pem_x509_certificate(files.cert_path.read_bytes()).fingerprint(hashes.SHA256()).hex()
    context = f"{nip}-FRAB123456789"
    admin = {**eu, "subjectIdentifier": {"type": "Fingerprint", "value": fingerprint},
             "contextIdentifier": {"type": "NipVatUe", "value": context}}
    assert xades(files, context, "NipVatUe", "certificateFingerprint")[0] == 415
    assert owner.granted("eu-entities/administration", admin)["code"] == 200
    code, headers = xades(files, context, "NipVatUe", "certificateFingerprint")
    assert code == 200
    eu_admin = Api(ksef, headers)
    assert eu_admin.granted("eu-entities", representative)["code"] == 200
    rows = eu_admin.query("eu-entities", {"authorizedFingerprintIdentifier": "ABAB"})
    assert [(r["permissionScope"], r["vatUeIdentifier"], r["euEntityName"]) for r in rows] == [
        ("InvoiceRead", "FRAB123456789", "Muller GmbH, Berlin")]
    assert rows[0]["authorIdentifier"] == {"type": "Fingerprint", "value": fingerprint.upper()}
    assert eu_admin.revoke(rows[0]["id"])["code"] == 200


def test_authorizations_roles_and_attachments(ksef, owner, nip, fresh_nip):
    partner = fresh_nip()
    body = {"subjectIdentifier": {"type": "Nip", "value": partner}, "permission": "SelfInvoicing",
            "description": "Samofakturowanie przez dostawcę", "subjectDetails": ENTITY}
    assert owner.granted("authorizations", body)["code"] == 200
    [row] = owner.query("authorizations", {"queryType": "Granted"}, key="authorizationGrants")
    assert row["authorizationScope"] == "SelfInvoicing" and row["authorizingEntityIdentifier"]["value"] == nip
    partner_api = Api(ksef, ksef.owner_login(partner).headers)
    received = partner_api.query("authorizations", {"queryType": "Received"}, key="authorizationGrants")
    assert [r["id"] for r in received] == [row["id"]]
    assert owner.revoke(row["id"])["code"] == 450  # an authorization has its own revoke
    assert owner.revoke(row["id"], kind="authorizations")["code"] == 200
    assert owner.query("authorizations", {"queryType": "Granted"}, key="authorizationGrants") == []

    sub = fresh_nip()
    group = {"subjectNip": nip, "subjectType": "VatGroup", "description": "Grupa VAT testowa",
             "subunits": [{"subjectNip": sub, "description": "Członek grupy VAT"}]}
    assert ksef.emu.api("POST", "testdata/subject", json=group).status_code == 200
    r = ksef.emu.api("GET", "permissions/query/entities/roles", headers=owner.headers)
    assert r.status_code == 200 and [x["role"] for x in r.json()["roles"]] == ["VatGroupUnit"]
    assert r.json()["hasMore"] is False
    roles = owner.post("permissions/query/subordinate-entities/roles", {}).json()["roles"]
    assert [(x["subordinateEntityIdentifier"]["value"], x["role"]) for x in roles] == [(sub, "VatGroupSubUnit")]
    admin = {"subjectIdentifier": {"type": "Pesel", "value": testcerts.random_pesel()},
             "contextIdentifier": {"type": "Nip", "value": sub}, "description": "Administrator członka grupy",
             "subjectDetails": PERSON}
    assert owner.granted("subunits", admin)["code"] == 200

    r = ksef.emu.api("GET", "permissions/attachments/status", headers=owner.headers)
    assert r.status_code == 200 and r.json() == {"isAttachmentAllowed": False}
    assert ksef.emu.api("POST", "testdata/attachment", json={"nip": nip}).status_code == 200
    assert ksef.emu.api("GET", "permissions/attachments/status", headers=owner.headers).json() == {
        "isAttachmentAllowed": True}


def test_control_api_steers_operations_and_records_foreign_grants(ksef, owner, nip):
    pesel = testcerts.random_pesel()
    emu = ksef.emu
    # The Owner is never granted a right, so never recorded as granted one either, nor listed when /testdata wrote it.
    to_owner = {"context": f"Nip:{nip}", "subject": f"Nip:{nip}", "permissions": ["CredentialsRead"]}
    refused = emu.admin("POST", "permissions/grants", json=to_owner)
    assert refused.status_code == 400 and "Owner" in refused.text
    own = {"contextIdentifier": {"type": "Nip", "value": nip}, "authorizedIdentifier": {"type": "Nip", "value": nip},
           "permissions": [{"permissionType": "Introspection", "description": "Dane testowe"}]}
    assert emu.api("POST", "testdata/permissions", json=own).status_code == 200
    assert not [r for r in owner.persons() if r["authorizedIdentifier"]["value"] == nip]
    # 2.8.1: an entity grant may carry CollectiveIdentifierManage.
    collective = entity_grant(testcerts.random_nip(), [("CollectiveIdentifierManage", False)])
    assert owner.granted("entities", collective)["code"] == 200
    assert emu.admin("PUT", "permissions/outcomes", json={"next": [440]}).json() == {"next": [440]}
    assert owner.granted("persons", person_grant(pesel, ["InvoiceRead"]))["code"] == 440
    assert emu.admin("PUT", "permissions/outcomes", json={"next": [201]}).status_code == 400
    delay = 0.5
    while True:  # hold an operation before its delay runs out (a longer delay when the machine was slower)
        with ksef.settings(permission_delay=delay):
            reference = owner.grant("persons", person_grant(testcerts.random_pesel(), ["InvoiceRead"]))
        held = emu.admin("POST", f"permissions/operations/{reference}/hold")
        if held.status_code == 200:
            break
        assert held.status_code == 409
        delay *= 4
    assert held.json()["status"]["code"] == 100
    before = owner.persons()
    time.sleep(delay)  # the operation started before the hold, so its delay is over now
    assert owner.status(reference)["code"] == 100
    finished = emu.admin("POST", f"permissions/operations/{reference}/finish", json={"code": 550})
    assert finished.json()["status"]["details"] == [
        "Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie później."]
    assert emu.admin("POST", f"permissions/operations/{reference}/finish", json={"code": 200}).status_code == 409
    assert owner.persons() == before  # a failed operation changes nothing
    emu.admin("POST", f"permissions/operations/{reference}/backdate", json={"seconds": 31 * 86400}).raise_for_status()
    r = emu.api("GET", f"permissions/operations/{reference}", headers=owner.headers)
    assert r.status_code == 410 and r.json()["status"] == 410
    # grants made elsewhere: recorded by System (ZAW-FA) and through /testdata/permissions
    r = emu.admin("POST", "permissions/grants", json={"context": f"Nip:{nip}", "subject": f"Pesel:{pesel}",
                                                      "permissions": ["CredentialsRead"], "author": "System"})
    assert r.status_code == 201
    other = testcerts.random_pesel()
    seeded = {"contextIdentifier": {"type": "Nip", "value": nip},
              "authorizedIdentifier": {"type": "Pesel", "value": other},
              "permissions": [{"permissionType": "Introspection", "description": "Dane testowe"}]}
    assert emu.api("POST", "testdata/permissions", json=seeded).status_code == 200
    rows = owner.persons(authorIdentifier={"type": "System"})
    assert {(r["authorizedIdentifier"]["value"], r["permissionScope"]) for r in rows} == {
        (pesel, "CredentialsRead"), (other, "Introspection")}
    assert all(r["authorIdentifier"] == {"type": "System"} for r in rows)
    granted = owner.persons("PermissionsGrantedInCurrentContext")  # only what this caller granted
    assert all(r["authorIdentifier"] == {"type": "Nip", "value": nip} for r in granted)
    for bad in ({"kind": "subunit"}, {"permissions": ["VatUeManage"]}, {"subject": "Regon:123"}, {"author": "Web"}):
        body = {"context": f"Nip:{nip}", "subject": f"Pesel:{pesel}", "permissions": ["InvoiceRead"], **bad}
        assert emu.admin("POST", "permissions/grants", json=body).status_code == 400, bad
    # a grant another administrator made in the web app is listed with that author
    clerk = testcerts.random_pesel()
    r = emu.admin("POST", "permissions/grants", json={"context": f"Nip:{nip}", "subject": f"Pesel:{other}",
                                                      "permissions": ["InvoiceRead"], "author": f"Pesel:{clerk}"})
    assert r.status_code == 201
    [web] = owner.persons(authorIdentifier={"type": "Pesel", "value": clerk})
    assert web["id"] == r.json()["ids"][0] and web["authorIdentifier"] == {"type": "Pesel", "value": clerk}
    assert owner.revoke(web["id"])["code"] == 200
    # revoking the /testdata row through the API removes it from /testdata's store too (a row still there would
    # be mirrored again, under the same id, at the next look)
    seeded_row = next(r for r in rows if r["permissionScope"] == "Introspection")
    assert owner.revoke(seeded_row["id"])["code"] == 200
    assert [r["authorizedIdentifier"]["value"] for r in owner.persons(authorIdentifier={"type": "System"})] == [pesel]


def test_queries_page_by_number_sorted_newest_first_then_by_id(ksef, owner, nip):
    for _n in range(13):  # 13 grants x 2 scopes; several share a startDate
        ksef.emu.admin("POST", "permissions/grants", json={
            "context": f"Nip:{nip}", "subject": f"Pesel:{testcerts.random_pesel()}",
            "permissions": ["InvoiceRead", "InvoiceWrite"], "author": f"Nip:{nip}"}).raise_for_status()
    pages = []
    for offset in range(3):
        r = owner.post("permissions/query/persons/grants", {"queryType": "PermissionsInCurrentContext"},
                       pageOffset=offset, pageSize=10)
        pages.append(r.json())
    assert [len(p["permissions"]) for p in pages] == [10, 10, 6]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    rows = [row for p in pages for row in p["permissions"]]
    assert len({r["id"] for r in rows}) == 26
    keys = [(r["startDate"], r["id"]) for r in rows]
    assert keys == sorted(sorted(keys, key=lambda k: k[1]), key=lambda k: k[0], reverse=True)
    assert len(owner.query("persons", {"queryType": "PermissionsInCurrentContext"}, pageSize=100)) == 26


def test_public_sdk_grants_polls_queries_and_revokes(ksef, nip, fresh_nip):
    """ksef-client (PyPI, not written here) drives person and entity grants against the emulator over HTTP."""
    access = ksef.owner_login(nip).access_token
    pesel, office = testcerts.random_pesel(), fresh_nip()
    with KsefClient(KsefClientOptions(base_url=ksef.emu.base_url)) as sdk:
        def wait(reference: str) -> int:
            deadline = time.monotonic() + 15
            while True:
                code = sdk.permissions.get_operation_status(reference, access_token=access).status.code
                if code != 100 or time.monotonic() > deadline:
                    return code
                time.sleep(0.1)

        person = models.PersonPermissionsGrantRequest.from_dict(person_grant(pesel, ["InvoiceRead", "Introspection"]))
        assert wait(sdk.permissions.grant_person(person, access_token=access).reference_number) == 200
        entity = models.EntityPermissionsGrantRequest.from_dict(entity_grant(office, [("InvoiceWrite", True)]))
        assert wait(sdk.permissions.grant_entity(entity, access_token=access).reference_number) == 200
        query = models.PersonPermissionsQueryRequest.from_dict({"queryType": "PermissionsInCurrentContext"})
        listed = sdk.permissions.query_persons_grants(query, page_offset=0, page_size=10, access_token=access)
        assert listed.has_more is False
        scopes = {(p.authorized_identifier.value, str(getattr(p.permission_scope, "value", p.permission_scope)),
                   p.can_delegate) for p in listed.permissions}
        assert scopes == {(pesel, "InvoiceRead", False), (pesel, "Introspection", False),
                          (office, "InvoiceWrite", True)}
        for permission in listed.permissions:
            revoke = sdk.permissions.revoke_common_permission(permission.id, access_token=access)
            assert wait(revoke.reference_number) == 200
        assert sdk.permissions.query_persons_grants(query, access_token=access).permissions == []


def test_each_permission_operation_counts_its_own_contract_limits(ksef, owner):
    """x-rate-limits of the contract as they are (10/s, 30/min), through /testdata/rate-limits/production."""
    assert ksef.emu.api("POST", "testdata/rate-limits/production", headers=owner.headers).status_code == 200
    try:
        answers = [owner.call("GET", "permissions/query/entities/roles") for _n in range(31)]
        codes = [r.status_code for r in answers]
        assert set(codes[:10]) == {200} and 429 in codes  # no limit can stop the first 10; 30/min stops the 31st
        assert int(next(r for r in answers if r.status_code == 429).headers["Retry-After"]) >= 1
        # another operation has a counter of its own
        assert owner.post("permissions/query/personal/grants", {}).status_code == 200
    finally:
        ksef.emu.api("DELETE", "testdata/rate-limits", headers=owner.headers)


def test_general_indirect_grant_and_context_rules(ksef, nip, fresh_nip, xades):
    client = Api(ksef, ksef.owner_login(nip).headers)
    office_nip, stranger = fresh_nip(), fresh_nip()
    office = Api(ksef, ksef.owner_login(office_nip).headers)
    assert client.granted("entities", entity_grant(office_nip, [("InvoiceWrite", True)]))["code"] == 200
    pesel = testcerts.random_pesel()
    staff = xades.cert(pesel=pesel)
    reference = office.grant("indirect", person_grant(pesel, ["InvoiceWrite"]))  # no target: every client
    assert office.wait(reference)["code"] == 200
    [row] = office.persons(targetIdentifier={"type": "AllPartners"})
    assert row["targetIdentifier"] == {"type": "AllPartners"} and row["permissionState"] == "Active"
    assert xades(staff, nip)[0] == 200  # a client that delegated to the office
    assert xades(staff, stranger)[0] == 415  # a context that gave the office nothing
    # an operation is visible only in the context that started it
    r = ksef.emu.api("GET", f"permissions/operations/{reference}", headers=client.headers)
    assert r.status_code == 400 and ksef.codes(r) == [21405]
    # an InternalId must start with the granting context's NIP
    unit = {"subjectIdentifier": {"type": "Pesel", "value": pesel}, "description": "Administrator cudzej jednostki",
            "contextIdentifier": {"type": "InternalId", "value": identifiers.internal_id(stranger, 1)},
            "subunitName": "Cudzy oddział", "subjectDetails": PERSON}
    assert client.granted("subunits", unit)["code"] == 410
    own_unit = {**unit, "contextIdentifier": {"type": "InternalId", "value": identifiers.internal_id(nip, 1)}}
    assert client.granted("subunits", own_unit)["code"] == 200
    # revoking a subunit administrator takes SubunitManage
    [admin] = client.query("subunits")
    manager = Api(ksef, ksef.owner_login(nip, ["CredentialsManage"]).headers)
    failed = manager.revoke(admin["id"])
    assert failed["code"] == 420 and "SubunitManage" in failed["details"][0]
    assert client.revoke(admin["id"])["code"] == 200


def test_wrong_method_on_a_permission_path_is_405(ksef):
    """Methods the contract does not define on a /permissions path answer 405 with the documented ones in Allow."""
    wrong = []
    with httpx.Client(base_url=ksef.emu.api_url, timeout=30) as client:
        for route in permission_routes.routes:
            documented = {m.upper() for m in contract()["paths"][route.path] if m in ("get", "post", "put", "delete")}
            concrete = route.path.replace("{permissionId}", "0" * 36).replace("{referenceNumber}", "0" * 36)
            for method in sorted({"GET", "POST", "PUT", "DELETE"} - documented):
                r = client.request(method, concrete.lstrip("/"))
                allow = {m.strip() for m in r.headers.get("allow", "").split(",")} - {"HEAD", ""}
                if r.status_code != 405 or allow != documented:
                    wrong.append((method, route.path, r.status_code, sorted(allow)))
    assert len(permission_routes.routes) == 19 and wrong == []
