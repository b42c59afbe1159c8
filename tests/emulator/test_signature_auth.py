"""XAdES authentication over HTTP (POST /auth/xades-signature) and who holds what in a context.

Documents are signed here with signxml and certificates from ksef_emulator.testcerts, independently of
the collection's signer.
"""
from __future__ import annotations

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
from signxml.xades import XAdESSigner

from ksef_emulator import testcerts

NS = "http://ksef.mf.gov.pl/auth/token/2.0"


def sign(files: testcerts.CertificateFiles, challenge: str, ctx_type: str, ctx_value: str,
         subject: str = "certificateSubject") -> bytes:
    xml = (f'<?xml version="1.0" encoding="utf-8"?><AuthTokenRequest xmlns="{NS}"><Challenge>{challenge}</Challenge>'
           f'<ContextIdentifier><{ctx_type}>{ctx_value}</{ctx_type}></ContextIdentifier>'
           f'<SubjectIdentifierType>{subject}</SubjectIdentifierType></AuthTokenRequest>').encode()
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    signer = XAdESSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                         digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1)
    return etree.tostring(signer.sign(etree.fromstring(xml), key=key, cert=[cert]))


class Signer:
    def __init__(self, ksef, out_dir):
        self.ksef, self.out_dir = ksef, out_dir

    def cert(self, **kwargs) -> testcerts.CertificateFiles:
        return testcerts.generate_certificate(self.out_dir, **kwargs)

    def submit(self, files, ctx_value, ctx_type="Nip", subject="certificateSubject", params=None, challenge=None):
        challenge = challenge or self.ksef.challenge()["challenge"]
        signed = sign(files, challenge, ctx_type, ctx_value, subject)
        return self.ksef.emu.api("POST", "auth/xades-signature", content=signed,
                                 headers={"Content-Type": "application/xml"}, params=params or {})

    def status(self, files, ctx_value, **kwargs) -> dict:
        r = self.submit(files, ctx_value, **kwargs)
        assert r.status_code == 202, r.text
        return self.ksef.wait_status(r.json()["referenceNumber"], r.json()["authenticationToken"]["token"])

    def login(self, files, ctx_value, **kwargs):
        r = self.submit(files, ctx_value, **kwargs)
        assert r.status_code == 202, r.text
        auth = r.json()["authenticationToken"]["token"]
        status = self.ksef.wait_status(r.json()["referenceNumber"], auth)
        assert status["status"]["code"] == 200, status
        tokens = self.ksef.emu.api("POST", "auth/token/redeem", headers={"Authorization": f"Bearer {auth}"}).json()
        return {"Authorization": f"Bearer {tokens['accessToken']['token']}"}, tokens


@pytest.fixture
def signer(ksef, tmp_path):
    return Signer(ksef, tmp_path)


def create(ksef, headers, permissions, description="Token z podpisu"):
    return ksef.emu.api("POST", "tokens", headers=headers, json={"permissions": permissions,
                                                                 "description": description})


def test_owner_signature_holds_owner_permissions(signer, ksef, nip):
    files = signer.cert(nip=nip)
    status = signer.status(files, nip)
    assert status["authenticationMethod"] == "QualifiedSignature"
    assert status["authenticationMethodInfo"] == {"category": "XadesSignature", "code": "xades.qualified-signature",
                                                  "displayName": "Podpis kwalifikowany"}
    headers, tokens = signer.login(files, nip)
    claims = jwt.decode(tokens["accessToken"]["token"], options={"verify_signature": False})
    assert claims["authentication-method"] == "QualifiedSignature"
    assert '"Type":"Nip"' in claims["subject-details"] and nip in claims["subject-details"]
    r = create(ksef, headers, ["InvoiceRead", "InvoiceWrite", "CredentialsRead", "CredentialsManage",
                               "SubunitManage", "Introspection"])
    assert r.status_code == 202, r.text
    token = ksef.emu.api("GET", f"tokens/{r.json()['referenceNumber']}", headers=headers).json()
    assert token["authorIdentifier"] == {"type": "Nip", "value": nip}
    denied = create(ksef, headers, ["EnforcementOperations"])
    assert denied.status_code == 400 and ksef.codes(denied) == [26001]


def test_company_seal_is_qualified_seal(signer, nip):
    status = signer.status(signer.cert(nip=nip, kind="seal"), nip)
    assert status["status"]["code"] == 200
    assert status["authenticationMethod"] == "QualifiedSeal"
    assert status["authenticationMethodInfo"]["code"] == "xades.qualified-seal"


def test_stranger_ends_415_until_granted(signer, ksef, nip, fresh_nip):
    stranger_nip = fresh_nip()
    files = signer.cert(nip=stranger_nip)
    status = signer.status(files, nip)
    assert status["status"] == {"code": 415, "description": "Uwierzytelnianie zakończone niepowodzeniem",
                                "details": ["Brak przypisanych uprawnień"]}
    grant = {"contextIdentifier": {"type": "nip", "value": nip},
             "authorizedIdentifier": {"type": "Nip", "value": stranger_nip},
             "permissions": [{"permissionType": "InvoiceRead", "description": "Odczyt faktur"},
                             {"permissionType": "CredentialsManage", "description": "Tokeny"}]}
    assert ksef.emu.api("POST", "testdata/permissions", json=grant).status_code == 200
    headers, _login = signer.login(files, nip)
    assert create(ksef, headers, ["InvoiceRead"]).status_code == 202
    r = create(ksef, headers, ["InvoiceWrite"])
    assert r.status_code == 400 and ksef.codes(r) == [26001]
    revoke = {k: grant[k] for k in ("contextIdentifier", "authorizedIdentifier")}
    assert ksef.emu.api("POST", "testdata/permissions/revoke", json=revoke).status_code == 200
    assert signer.status(files, nip)["status"]["code"] == 415


def test_pesel_owner_through_person_link_and_bailiff(signer, ksef, nip):
    pesel = testcerts.random_pesel()
    files = signer.cert(pesel=pesel)
    assert signer.status(files, nip)["status"]["code"] == 415
    person = {"nip": nip, "pesel": pesel, "description": "Komornik", "isBailiff": True}
    assert ksef.emu.api("POST", "testdata/person", json=person).status_code == 200
    headers, _login = signer.login(files, nip)
    r = create(ksef, headers, ["EnforcementOperations", "CredentialsManage"])
    assert r.status_code == 202, r.text
    token = ksef.emu.api("GET", f"tokens/{r.json()['referenceNumber']}", headers=headers).json()
    assert token["authorIdentifier"] == {"type": "Pesel", "value": pesel}
    assert ksef.emu.api("POST", "testdata/person/remove", json={"nip": nip}).status_code == 200
    assert signer.status(files, nip)["status"]["code"] == 415


def test_author_visibility_for_signature_sessions(signer, ksef, nip, fresh_nip):
    worker_nip = fresh_nip()
    files = signer.cert(nip=worker_nip)
    grant = {"contextIdentifier": {"type": "Nip", "value": nip},
             "authorizedIdentifier": {"type": "Nip", "value": worker_nip},
             "permissions": [{"permissionType": "InvoiceRead", "description": "Odczyt faktur"}]}
    ksef.emu.api("POST", "testdata/permissions", json=grant).raise_for_status()
    headers, _login = signer.login(files, nip)
    mine = create(ksef, headers, ["InvoiceRead"]).json()["referenceNumber"]
    others, _value = ksef.seed_token(nip, ["InvoiceRead"], description="Token właściciela")
    listed = [t["referenceNumber"] for t in ksef.emu.api("GET", "tokens", headers=headers).json()["tokens"]]
    assert listed == [mine]
    assert ksef.emu.api("DELETE", f"tokens/{others}", headers=headers).status_code == 403
    assert ksef.emu.api("DELETE", f"tokens/{mine}", headers=headers).status_code == 204


def test_fingerprint_subject(signer, ksef, nip):
    files = signer.cert(identifier=False)
    assert signer.status(files, nip, subject="certificateFingerprint")["status"]["code"] == 415
    grant = {"contextIdentifier": {"type": "Nip", "value": nip},
             "authorizedIdentifier": {"type": "Fingerprint", "value": files.fingerprint.lower()},
             "permissions": [{"permissionType": "CredentialsRead", "description": "Podgląd tokenów"}]}
    ksef.emu.api("POST", "testdata/permissions", json=grant).raise_for_status()
    headers, tokens = signer.login(files, nip, subject="certificateFingerprint")
    assert ksef.emu.api("GET", "tokens", headers=headers).status_code == 200
    assert create(ksef, headers, ["CredentialsRead"]).status_code == 202


def test_context_type_without_tokens_is_26002(signer, ksef, nip):
    files = signer.cert(nip=nip)
    headers, _login = signer.login(files, f"{nip}-DE123456789", ctx_type="NipVatUe")
    r = create(ksef, headers, ["InvoiceRead"])
    assert r.status_code == 400 and ksef.codes(r) == [26002]
    assert "NipVatUe" in ksef.details(r)[0]


def test_internal_id_context_by_signature(signer, ksef, nip):
    headers, tokens = signer.login(signer.cert(nip=nip), f"{nip}-00042", ctx_type="InternalId")
    r = create(ksef, headers, ["InvoiceRead"])
    assert r.status_code == 202 and f"|internalId-{nip}-00042|" in r.json()["token"]


def test_verify_certificate_chain_ends_460(signer, nip):
    status = signer.status(signer.cert(nip=nip), nip, params={"verifyCertificateChain": "true"})
    assert status["status"] == {"code": 460,
                                "description": "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
                                "details": ["Niezaufany łańcuch certyfikatów"]}
    assert signer.status(signer.cert(nip=nip), nip, params={"verifyCertificateChain": "false"})["status"]["code"] == 200


def test_signature_challenge_rules(signer, ksef, nip):
    files = signer.cert(nip=nip)
    challenge = ksef.challenge()["challenge"]
    assert signer.submit(files, nip, challenge=challenge).status_code == 202
    again = signer.submit(files, nip, challenge=challenge)
    assert again.status_code == 400 and ksef.codes(again) == [21111]
    unknown = signer.submit(files, nip, challenge="20250625-CR-20F5EE4000-DA48AE4124-46")
    assert unknown.status_code == 400 and ksef.codes(unknown) == [21111]


def test_unsigned_document_is_refused_with_official_code(ksef, nip):
    challenge = ksef.challenge()["challenge"]
    xml = (f'<AuthTokenRequest xmlns="{NS}"><Challenge>{challenge}</Challenge><ContextIdentifier><Nip>{nip}</Nip>'
           f'</ContextIdentifier><SubjectIdentifierType>certificateSubject</SubjectIdentifierType></AuthTokenRequest>')
    r = ksef.emu.api("POST", "auth/xades-signature", content=xml, headers={"Content-Type": "application/xml"})
    assert r.status_code == 400 and ksef.codes(r) == [9102]
    assert r.json()["exception"]["exceptionDetailList"][0]["exceptionDescription"] == "Brak podpisu."
