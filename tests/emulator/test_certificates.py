"""KSeF certificates over HTTP (/certificates/*, certyfikaty-KSeF.md): limits, enrollment data, enroll with a PKCS#10
CSR, status, retrieve, query, revoke, and XAdES login with an issued certificate.

CSRs are built here with `cryptography`, independently of the collection's own code.
"""
from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

import ksef_emulator
from ksef_emulator import testcerts
from ksef_emulator.routes import auth, certificates, limits, security, sessions, testdata, tokens

from .test_signature_auth import Signer

OIDS = {
    "commonName": NameOID.COMMON_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "countryName": NameOID.COUNTRY_NAME,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


def csr_for(data: dict, key=None, algorithm=None) -> tuple[str, object]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(OIDS[k], v) for k, v in data.items()])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm or hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode(), key


class Owner:
    """A company seal that owns its NIP context, logged in by XAdES."""

    def __init__(self, ksef, tmp_path, nip, **cert_kwargs):
        self.ksef, self.nip = ksef, nip
        self.signer = Signer(ksef, tmp_path)
        self.files = self.signer.cert(nip=nip, kind="seal", **cert_kwargs)
        self.headers, _tokens = self.signer.login(self.files, nip)

    def call(self, method, path, **kwargs):
        return self.ksef.emu.api(method, path, headers=self.headers, **kwargs)

    def data(self) -> dict:
        r = self.call("GET", "certificates/enrollments/data")
        assert r.status_code == 200, r.text
        return r.json()

    def enroll(self, name="Automatyzacja 01", kind="Authentication", key=None, **extra):
        csr, key = csr_for(self.data(), key)
        r = self.call("POST", "certificates/enrollments",
                      json={"certificateName": name, "certificateType": kind, "csr": csr, **extra})
        assert r.status_code == 202, r.text
        return r.json()["referenceNumber"], key

    def wait(self, reference: str) -> dict:
        deadline = time.monotonic() + 15
        while True:
            status = self.call("GET", f"certificates/enrollments/{reference}").json()
            if status["status"]["code"] != 100 or time.monotonic() > deadline:
                return status
            time.sleep(0.1)

    def issue(self, **kwargs) -> tuple[str, object]:
        reference, key = self.enroll(**kwargs)
        status = self.wait(reference)
        assert status["status"]["code"] == 200, status
        return status["certificateSerialNumber"], key

    def retrieve(self, serial: str) -> x509.Certificate:
        r = self.call("POST", "certificates/retrieve", json={"certificateSerialNumbers": [serial]})
        assert r.status_code == 200, r.text
        return x509.load_der_x509_certificate(base64.b64decode(r.json()["certificates"][0]["certificate"]))


@pytest.fixture
def owner(ksef, tmp_path, nip):
    return Owner(ksef, tmp_path, nip)


def write_pair(tmp_path, certificate: x509.Certificate, key) -> testcerts.CertificateFiles:
    cert_path, key_path = tmp_path / "ksef-cert.pem", tmp_path / "ksef-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return testcerts.CertificateFiles(cert_path=cert_path, key_path=key_path, pkcs12_path=cert_path, fingerprint="",
                                      subject_type="", subject_value="", kind="internal")


def test_enrollment_data_limits_and_issue(owner, nip):
    data = owner.data()
    assert data["organizationIdentifier"] == f"VATPL-{nip}" and data["countryName"] == "PL"
    limits = owner.call("GET", "certificates/limits").json()
    assert limits == {"canRequest": True, "enrollment": {"remaining": 300, "limit": 300},
                      "certificate": {"remaining": 100, "limit": 100}}

    reference, _key = owner.enroll(kind="Offline")
    first = owner.call("GET", f"certificates/enrollments/{reference}").json()
    assert first["status"]["code"] in (100, 200)
    status = owner.wait(reference)
    assert status["status"] == {"code": 200, "description": "Wniosek obsłużony (certyfikat wygenerowany)"}
    serial = status["certificateSerialNumber"]
    offline = owner.retrieve(serial)
    assert f"{offline.serial_number:016X}" == serial
    usage = offline.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment and not usage.digital_signature  # Non-Repudiation (40)

    auth_serial, _key = owner.issue(key=rsa.generate_private_key(65537, 2048))
    usage = owner.retrieve(auth_serial).extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.content_commitment  # Digital Signature (80)
    after = owner.call("GET", "certificates/limits").json()
    assert after["enrollment"]["remaining"] == 298 and after["certificate"]["remaining"] == 98


def test_enrollment_refusals_carry_documented_codes(owner, ksef, nip):
    data = owner.data()

    def enroll(csr, **body):
        payload = {"certificateName": "Odmowa 01", "certificateType": "Authentication", "csr": csr, **body}
        return owner.call("POST", "certificates/enrollments", json=payload)

    other = dict(data, commonName="Ktoś Inny")
    assert ksef.codes(enroll(csr_for(other)[0])) == [25003]
    assert ksef.codes(enroll(csr_for(data, rsa.generate_private_key(65537, 3072))[0])) == [25010]
    assert ksef.codes(enroll(csr_for(data, ec.generate_private_key(ec.SECP384R1()))[0])) == [25010]
    assert ksef.codes(enroll(base64.b64encode(b"not a csr").decode())) == [25004]
    assert ksef.codes(enroll(csr_for(data)[0], certificateName="ab")) == [21405]
    assert ksef.codes(enroll(csr_for(data)[0], validFrom="jutro")) == [21405]
    r = owner.call("GET", "certificates/enrollments/20250101-EH-0000000000-0000000000-00")
    assert r.status_code == 400


def test_ksef_token_login_cannot_enroll_or_revoke(ksef, nip):
    login = ksef.owner_login(nip)
    assert ksef.codes(ksef.emu.api("GET", "certificates/enrollments/data", headers=login.headers)) == [25001]
    r = ksef.emu.api("POST", "certificates/enrollments", headers=login.headers,
                     json={"certificateName": "Z tokena", "certificateType": "Offline",
                           "csr": csr_for({"commonName": "x", "countryName": "PL"})[0]})
    assert ksef.codes(r) == [25002]
    r = ksef.emu.api("POST", "certificates/0123456789ABCDEF/revoke", headers=login.headers, json={})
    assert r.status_code == 403 and r.json()["reasonCode"] == "auth-method-not-allowed"


def test_query_filters_paging_and_revoke(owner, ksef):
    serials = [owner.issue(name=f"Seria {i:02d}", kind="Offline" if i % 2 else "Authentication")[0]
               for i in range(11)]

    def query(body=None, **params):
        r = owner.call("POST", "certificates/query", json=body or {}, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    page0, page1 = query(pageSize=10), query(pageSize=10, pageOffset=1)
    assert len(page0["certificates"]) == 10 and page0["hasMore"] is True
    assert len(page1["certificates"]) == 1 and page1["hasMore"] is False
    listed = [c["certificateSerialNumber"] for c in page0["certificates"] + page1["certificates"]]
    assert listed == list(reversed(serials))  # requestDate descending
    assert {c["type"] for c in query({"type": "Offline"})["certificates"]} == {"Offline"}
    assert [c["name"] for c in query({"name": "seria 03"})["certificates"]] == ["Seria 03"]
    assert ksef.codes(owner.call("POST", "certificates/query", json={}, params={"pageSize": 51})) == [21405]

    target = serials[0]
    r = owner.call("POST", f"certificates/{target}/revoke", json={"revocationReason": "Superseded"})
    assert r.status_code == 204
    assert query({"certificateSerialNumber": target})["certificates"][0]["status"] == "Revoked"
    assert [c["certificateSerialNumber"] for c in query({"status": "Revoked"})["certificates"]] == [target]
    assert ksef.codes(owner.call("POST", f"certificates/{target}/revoke", json={})) == [25009]
    assert ksef.codes(owner.call("POST", "certificates/0123456789ABCDEF/revoke", json={})) == [25008]
    assert ksef.codes(owner.call("POST", f"certificates/{serials[1]}/revoke",
                                 json={"revocationReason": "Lost"})) == [21405]


def test_login_with_issued_certificate(owner, ksef, nip, tmp_path):
    key = rsa.generate_private_key(65537, 2048)
    serial, _key = owner.issue(key=key)
    files = write_pair(tmp_path, owner.retrieve(serial), key)
    status = owner.signer.status(files, nip)
    assert status["status"]["code"] == 200 and status["authenticationMethod"] == "InternalCertificate"
    listed = owner.call("POST", "certificates/query", json={"certificateSerialNumber": serial}).json()
    assert "lastUseDate" in listed["certificates"][0]
    # The chain of an issued certificate is the emulator's own CA: verifyCertificateChain passes.
    assert owner.signer.status(files, nip, params={"verifyCertificateChain": "true"})["status"]["code"] == 200
    # A session opened with the KSeF certificate may renew it (its enrollment data is the same subject).
    headers, _tokens = owner.signer.login(files, nip)
    assert ksef.emu.api("GET", "certificates/enrollments/data", headers=headers).json() == owner.data()

    owner.call("POST", f"certificates/{serial}/revoke", json={"revocationReason": "KeyCompromise"})
    revoked = owner.signer.status(files, nip)
    assert revoked["status"]["code"] == 460 and revoked["status"]["details"] == ["Certyfikat odwołany"]

    offline_key = rsa.generate_private_key(65537, 2048)
    offline_serial, _key = owner.issue(kind="Offline", key=offline_key)
    offline = owner.signer.status(write_pair(tmp_path, owner.retrieve(offline_serial), offline_key), nip)
    assert offline["status"]["code"] == 460 and offline["status"]["details"] == ["Niepoprawny certyfikat"]


def test_a_key_certified_for_another_subject_is_rejected(owner, ksef, tmp_path, fresh_nip):
    _serial, key = owner.issue()
    stranger = Owner(ksef, tmp_path / "other", fresh_nip())
    reference, _key = stranger.enroll(key=key)
    status = stranger.wait(reference)
    assert status["status"]["code"] == 400
    assert status["status"]["details"] == ["Klucz publiczny został już certyfikowany przez inny podmiot."]


def test_subject_certificate_limits_through_testdata(owner, ksef):
    r = owner.call("POST", "testdata/limits/subject/certificate",
                   json={"subjectIdentifierType": "Nip", "certificate": {"maxCertificates": 1}})
    assert r.status_code == 200, r.text
    owner.issue()
    assert owner.call("GET", "certificates/limits").json()["canRequest"] is False
    csr, _key = csr_for(owner.data())
    refused = owner.call("POST", "certificates/enrollments",
                         json={"certificateName": "Ponad limit", "certificateType": "Offline", "csr": csr})
    assert ksef.codes(refused) == [25007]
    assert owner.call("DELETE", "testdata/limits/subject/certificate").status_code == 200
    assert owner.call("GET", "certificates/limits").json()["certificate"]["limit"] == 100


def test_testdata_operations_of_the_contract_answer(owner, ksef, nip):
    """Every /testdata operation of the contract exists (they answered 404 before)."""
    group = {"perSecond": 5, "perMinute": 50, "perHour": 500}
    groups = {g: group for g in ("onlineSession", "batchSession", "invoiceSend", "invoiceStatus", "sessionList",
                                 "sessionInvoiceList", "sessionMisc", "invoiceMetadata", "invoiceExport",
                                 "invoiceExportStatus", "invoiceDownload", "collectiveIdentifier", "other")}
    session = {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 2, "maxInvoices": 10}
    calls = [
        ("POST", "testdata/rate-limits", {"rateLimits": groups}),
        ("DELETE", "testdata/rate-limits", None),
        ("POST", "testdata/rate-limits/production", None),
        ("DELETE", "testdata/rate-limits", None),
        ("POST", "testdata/limits/context/session", {"onlineSession": session, "batchSession": session,
                                                     "collectiveIdentifier": {"maxInvoices": 10}}),
        ("DELETE", "testdata/limits/context/session", None),
        ("POST", "testdata/attachment", {"nip": nip}),
        ("POST", "testdata/attachment/revoke", {"nip": nip, "expectedEndDate": "2027-01-31"}),
    ]
    for method, path, body in calls:
        r = owner.call(method, path, json=body) if body is not None else owner.call(method, path)
        assert r.status_code == 200, (method, path, r.text)
    assert owner.call("POST", "testdata/rate-limits", json={"rateLimits": {}}).status_code == 400
    assert ksef.emu.api("POST", "testdata/rate-limits", json={"rateLimits": groups}).status_code == 401

    context = {"contextIdentifier": {"type": "Nip", "value": nip}}
    assert ksef.emu.api("POST", "testdata/context/block", json=context).status_code == 200
    blocked = owner.signer.status(owner.files, nip)
    assert blocked["status"]["code"] == 480
    assert ksef.emu.api("POST", "testdata/context/unblock", json=context).status_code == 200
    assert owner.signer.status(owner.files, nip)["status"]["code"] == 200


def test_testdata_rate_limits_apply_to_the_context(owner, ksef):
    group = {"perSecond": 100, "perMinute": 2, "perHour": 1000}
    groups = {g: group for g in ("onlineSession", "batchSession", "invoiceSend", "invoiceStatus", "sessionList",
                                 "sessionInvoiceList", "sessionMisc", "invoiceMetadata", "invoiceExport",
                                 "invoiceExportStatus", "invoiceDownload", "collectiveIdentifier", "other")}
    assert owner.call("POST", "testdata/rate-limits", json={"rateLimits": groups}).status_code == 200
    answers = [owner.call("GET", "certificates/limits").status_code for _attempt in range(3)]
    # Three requests on one operation within a minute: the third breaches perMinute 2 (the TEST factor is off).
    assert answers[:2] == [200, 200] and answers[2] == 429
    owner.call("DELETE", "testdata/rate-limits")


@pytest.mark.parametrize("path", ["testdata/person", "testdata/subject"])
def test_created_date_must_be_a_date(ksef, nip, path):
    body = ({"nip": nip, "pesel": testcerts.random_pesel(), "isBailiff": False, "description": "Osoba testowa",
             "createdDate": "wczoraj"} if path == "testdata/person" else
            {"subjectNip": nip, "subjectType": "VatGroup", "description": "Podmiot testowy", "createdDate": "wczoraj"})
    r = ksef.emu.api("POST", path, json=body)
    assert ksef.codes(r) == [21405] and "createdDate" in r.text


def test_wrong_method_on_a_known_path_is_405(ksef):
    """Every method the contract does not define for a path the emulator serves answers 405 with an Allow header
    naming the documented ones (the conformance check verifies that header), not 401 or 404.

    A path that another template also matches with that method (GET /auth/challenge is GET /auth/{referenceNumber})
    is left out: the server routes it to that operation, as ASP.NET's routing does.
    """
    contract = json.loads((Path(ksef_emulator.__file__).parent / "contract" / "open-api.json").read_text())
    templates = {path: {m.upper() for m in ops if m in ("get", "post", "put", "delete", "patch")}
                 for path, ops in contract["paths"].items()}
    served = {r.path for module in (auth, certificates, limits, security, sessions, testdata, tokens)
              for r in module.routes}
    wrong = []
    with httpx.Client(base_url=ksef.emu.api_url, timeout=30) as client:
        for path in sorted(served | {auth.status_route.path}):
            concrete = re.sub(r"\{[^}]+\}", "0123456789ABCDEF", path)
            for method in sorted({"GET", "POST", "PUT", "DELETE", "PATCH"} - templates[path]):
                if any(other != path and method in methods
                       and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", other), concrete)
                       for other, methods in templates.items()):
                    continue
                response = client.request(method, concrete.lstrip("/"))
                allow = {m.strip() for m in response.headers.get("allow", "").split(",")} - {"HEAD", ""}
                if response.status_code != 405 or allow != templates[path]:
                    wrong.append((method, path, response.status_code, sorted(allow)))
    assert len(served) > 25 and wrong == []
