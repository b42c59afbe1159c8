"""The limits routes and the test data of contract 2.7.0 (with 2.7.1 and 2.8.1) over HTTP: GET /limits/context,
GET /limits/subject, GET /rate-limits, the collectiveIdentifier groups of /testdata, and
PUT /testdata/certificates/{serialNumber} (shortening a KSeF certificate's validity to test its renewal).

The shared emulator runs the `te` profile: the documented request limits times ten.
"""
from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ksef_emulator.conformance import ContractChecker

from .test_certificates import Owner, write_pair

CONTRACT = ContractChecker.from_file().contract
SESSION = {"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 4, "maxInvoices": 50}
DEFAULT_SESSION = {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000}


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def owner(ksef, tmp_path, nip):
    return Owner(ksef, tmp_path, nip)


def test_context_and_subject_limits_show_the_defaults_and_what_testdata_set(owner, ksef):
    assert owner.call("GET", "limits/context").json() == {"onlineSession": DEFAULT_SESSION,
                                                          "batchSession": DEFAULT_SESSION}
    body = {"onlineSession": SESSION, "batchSession": SESSION}
    missing = owner.call("POST", "testdata/limits/context/session", json=body)
    assert ksef.codes(missing) == [21405] and "collectiveIdentifier" in missing.text  # required since 2.7.1
    negative = owner.call("POST", "testdata/limits/context/session",
                          json={**body, "collectiveIdentifier": {"maxInvoices": -1}})
    assert ksef.codes(negative) == [21405] and "maxInvoices" in negative.text
    assert owner.call("POST", "testdata/limits/context/session",
                      json={**body, "collectiveIdentifier": {"maxInvoices": 7}}).status_code == 200
    assert owner.call("GET", "limits/context").json() == {"onlineSession": SESSION, "batchSession": SESSION}
    assert owner.call("DELETE", "testdata/limits/context/session").status_code == 200
    assert owner.call("GET", "limits/context").json()["onlineSession"] == DEFAULT_SESSION

    assert owner.call("GET", "limits/subject").json() == {"enrollment": {"maxEnrollments": 300},
                                                          "certificate": {"maxCertificates": 100}}
    assert owner.call("POST", "testdata/limits/subject/certificate",
                      json={"enrollment": {"maxEnrollments": 5}, "certificate": {"maxCertificates": 2}}
                      ).status_code == 200
    assert owner.call("GET", "limits/subject").json() == {"enrollment": {"maxEnrollments": 5},
                                                          "certificate": {"maxCertificates": 2}}
    assert ksef.emu.api("GET", "limits/subject").status_code == 401


def test_rate_limits_list_every_group_of_the_contract_as_applied(ksef, nip):
    login = ksef.owner_login(nip)

    def current() -> dict:
        r = ksef.emu.api("GET", "rate-limits", headers=login.headers)
        assert r.status_code == 200, r.text
        return r.json()

    groups = CONTRACT["components"]["schemas"]["EffectiveApiRateLimits"]["required"]
    te = current()
    assert sorted(te) == sorted(groups)
    assert te["other"] == {"perSecond": 100, "perMinute": 300, "perHour": 1200}
    assert te["collectiveIdentifier"] == {"perSecond": 100, "perMinute": 600, "perHour": 1200}
    # 2.8.1: closing a session has its own, higher limits; anonymous requests 60/s; global limits are off.
    assert te["onlineSessionClose"] == {"perSecond": 200, "perMinute": 600, "perHour": 2400}
    assert te["batchSessionClose"] == {"perSecond": 200, "perMinute": 400, "perHour": 1200}
    assert te["anonymous"] == {"perSecond": 600, "perMinute": -1, "perHour": -1}
    assert te["global"] == {"perSecond": -1, "perMinute": -1, "perHour": -1}

    settable = CONTRACT["components"]["schemas"]["ApiRateLimitsOverride"]["required"]
    chosen = {group: {"perSecond": 50, "perMinute": 500, "perHour": 5000} for group in settable}
    assert ksef.emu.api("POST", "testdata/rate-limits", headers=login.headers,
                        json={"rateLimits": chosen}).status_code == 200
    overridden = current()
    assert all(overridden[group] == chosen[group] for group in settable)
    assert overridden["onlineSessionClose"] == te["onlineSessionClose"]  # not settable

    assert ksef.emu.api("POST", "testdata/rate-limits/production", headers=login.headers).status_code == 200
    production = current()
    assert production["other"] == {"perSecond": 10, "perMinute": 30, "perHour": 120}
    assert production["onlineSessionClose"] == {"perSecond": 20, "perMinute": 60, "perHour": 240}
    assert ksef.emu.api("DELETE", "testdata/rate-limits", headers=login.headers).status_code == 200
    assert current() == te


def test_a_certificates_validity_can_be_shortened_never_lengthened(owner, ksef, nip, tmp_path):
    key = rsa.generate_private_key(65537, 2048)
    serial, _key = owner.issue(key=key)

    def listed() -> dict:
        r = owner.call("POST", "certificates/query", json={"certificateSerialNumber": serial})
        return r.json()["certificates"][0]

    valid_to = parse(listed()["validTo"])
    later = owner.call("PUT", f"testdata/certificates/{serial}",
                       json={"validTo": iso(valid_to + datetime.timedelta(days=1))})
    assert ksef.codes(later) == [21405] and "validTo" in later.text
    for body in ({}, {"validTo": "jutro"}):
        assert ksef.codes(owner.call("PUT", f"testdata/certificates/{serial}", json=body)) == [21405]
    assert ksef.codes(owner.call("PUT", "testdata/certificates/0123456789ABCDEF",
                                 json={"validTo": iso(valid_to)})) == [25008]
    assert ksef.codes(owner.call("PUT", "testdata/certificates/not-a-serial",
                                 json={"validTo": iso(valid_to)})) == [21405]

    soon = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=3)
    assert owner.call("PUT", f"testdata/certificates/{serial}", json={"validTo": iso(soon)}).status_code == 200
    assert parse(listed()["validTo"]) == soon and listed()["status"] == "Active"

    # Ended: the certificate is Expired and no longer signs a login in.
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    assert owner.call("PUT", f"testdata/certificates/{serial}", json={"validTo": iso(past)}).status_code == 200
    assert listed()["status"] == "Expired"
    status = owner.signer.status(write_pair(tmp_path, owner.retrieve(serial), key), nip)
    assert status["status"]["code"] == 460, status
