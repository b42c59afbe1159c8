"""Parallel first XAdES logins against a freshly started emulator process.

libxml2 builds XML schemas with global state: five parallel first XAdES logins once broke it in about one cold
start in five, and every XAdES login then got 500 until a restart. Each round starts a new process and sends its
very first XAdES documents all at once (some with XAdES signed properties, some plain XML-DSig, so both of
signxml's verifiers and the AuthTokenRequest schema are first used in parallel), then one more afterwards.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLSigner

from ksef_emulator import testcerts

from .test_signature_auth import NS, sign

pytestmark = pytest.mark.timeout(180)

PARALLEL = 12


def sign_plain(files: testcerts.CertificateFiles, challenge: str, nip: str) -> bytes:
    """An enveloped XML-DSig signature without XAdES signed properties (XMLVerifier's path)."""
    xml = (f'<AuthTokenRequest xmlns="{NS}"><Challenge>{challenge}</Challenge><ContextIdentifier><Nip>{nip}</Nip>'
           f'</ContextIdentifier><SubjectIdentifierType>certificateSubject</SubjectIdentifierType>'
           f'</AuthTokenRequest>').encode()
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256)
    return etree.tostring(signer.sign(etree.fromstring(xml), key=key, cert=[cert]))


# Before the fix about one round in 20 to 30 failed (a 500, or the process aborting on a heap corruption): the
# default run is a smoke check, the soak run the proof; tests/unit/emulator/test_xades_schemas_unit.py checks the
# mechanism itself deterministically.
@pytest.mark.parametrize("rounds", [3, pytest.param(60, marks=pytest.mark.soak)])
def test_parallel_first_xades_logins_on_a_cold_emulator(emulator_factory, tmp_path, fresh_nip, rounds):
    owners = [(nip, testcerts.generate_certificate(tmp_path / str(n), nip=nip))
              for n, nip in enumerate(fresh_nip() for _owner in range(PARALLEL))]
    for round_number in range(rounds):
        emu = emulator_factory("--activation-delay", "0")
        with httpx.Client(base_url=emu.api_url, timeout=60) as client:
            documents = []
            for n, (nip, files) in enumerate(owners):
                challenge = client.post("/auth/challenge").json()["challenge"]
                signed = sign(files, challenge, "Nip", nip) if n % 2 else sign_plain(files, challenge, nip)
                documents.append(signed)
            start = threading.Barrier(len(documents))

            def submit(document: bytes, start: threading.Barrier = start) -> httpx.Response:
                start.wait(timeout=30)  # every document leaves at the same moment
                return client.post("/auth/xades-signature", content=document,
                                   headers={"Content-Type": "application/xml"})

            with ThreadPoolExecutor(len(documents)) as pool:
                answers = list(pool.map(submit, documents))
            assert [a.status_code for a in answers] == [202] * len(documents), (
                round_number, [a.text[:300] for a in answers if a.status_code != 202])

            nip, files = owners[0]
            challenge = client.post("/auth/challenge").json()["challenge"]
            after = client.post("/auth/xades-signature", content=sign(files, challenge, "Nip", nip),
                                headers={"Content-Type": "application/xml"})
            assert after.status_code == 202, (round_number, after.text[:300])
        emu.stop()
