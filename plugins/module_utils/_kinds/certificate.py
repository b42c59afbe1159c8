# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KSeF certificates as a credential kind of the engine (`_engine.py`): the certificate's side of each step.

    declare    options of one entry -> Declared (certificate_plan.declare; no I/O)
    read_live  POST /certificates/query of the authenticated subject (all pages), managed names only
    plan       certificate_plan.plan_subject (pure)
    issue      make the key here, GET /certificates/enrollments/data once, POST /certificates/enrollments
    activate   GET /certificates/enrollments/{ref} per pending enrollment and poll, then one POST
               /certificates/retrieve for all; the value becomes the bundle of certificate and key
    verify     Authentication: log in with the new certificate (XAdES) and close that session;
               Offline: the certificate carries Non-Repudiation and matches the key (it cannot log in)
    revoke     POST /certificates/{serial}/revoke (reason Superseded)

Whose certificate (docs/role-company.md): KSeF lists the subject's certificates across all its contexts, so a live
certificate of a declared name is this host's only when a store of it holds it or when this controller enrolled it
for this context (the journal of enrollments, `_journal.py`, written from the enrollment on and until the revoke);
any other belongs to another host that declares the same certificate, and the planner refuses to touch it.

A certificate is enrolled only by a session opened with a signature (certyfikaty-KSeF.md): `check_auth` refuses a
KSeF-token login before any request.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.ksef.credentials.plugins.module_utils import _certificate_bundle as bundle
from ansible_collections.ksef.credentials.plugins.module_utils import _timestamps
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefApiError, KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._journal import Journal, NoJournal
from ansible_collections.ksef.credentials.plugins.module_utils._kind import SUBJECT, Kind
from ansible_collections.ksef.credentials.plugins.module_utils._kinds import certificate_plan
from ansible_collections.ksef.credentials.plugins.module_utils._stores._registry import TokenMeta

ENROLLMENT_DONE = 200
ENROLLMENT_IN_PROGRESS = 100
# The journal of the certificates this controller enrolled for a context, until revoked: which live certificates of
# the subject are this host's when no store holds them (a run that died before storing, a superseded one kept).
ENROLLED = "certificates-enrolled"
ENROLLING, ENROLLED_ACTION = "enroll", "enrolled"
# 25001/25002: this login cannot enroll (a KSeF token, or a session whose signature KSeF cannot read a subject from).
_CANNOT_ENROLL = {25001, 25002}
_HOW_TO_LOG_IN = (
    "KSeF enrolls certificates only for a session opened with a signature: set auth.certificate and "
    "auth.private_key (or auth.pkcs12) to a qualified certificate, or to a KSeF Authentication certificate this "
    "collection manages"
)


def _login_serials(module) -> set:
    """The serial number of the certificate of a XAdES login (auth.certificate or auth.pkcs12), else nothing."""
    auth = getattr(module, "ksef_auth", None)
    if auth is None or auth.method != "xades":
        return set()
    from ansible_collections.ksef.credentials.plugins.module_utils import _xades  # a XAdES login loaded it

    try:
        credentials = _xades.load_signing_credentials(
            auth.certificate, auth.private_key, auth.private_key_passphrase, auth.pkcs12, auth.pkcs12_passphrase
        )
    except KsefError:  # the login has just read the same files; gone since, there is nothing left to lock out
        return set()
    return {"%016X" % credentials.certificate.serial_number}


class CertificateKind(Kind):
    """KSeF certificates: owned by the subject that logs in (never a context), the certificate with its key in
    stores, make-before-break (the successor is stored and proven before the old one is revoked)."""

    noun = "certificate"
    plural = "certificates"
    exclusive_choices = certificate_plan.EXCLUSIVE_CHOICES
    owner = SUBJECT

    def __init__(self):
        self._enrollment_data = None
        self._context = None  # set by check_auth: the context whose journal of enrollments is read
        self._journal: Journal | NoJournal = NoJournal()
        self._owned = None  # serial numbers enrolled for this context from this controller (None: unknown)
        self._names: dict = {}  # enrollment reference -> declared name, for this run's enrollments
        self._resolved: dict = {}  # an earlier run's enrollment reference -> its serial number, or None (none issued)
        self._login_serials: set | None = None  # protected(): the login certificate is read once per task

    # -- without I/O ------------------------------------------------------------------------------------------

    def declare(self, options: dict) -> certificate_plan.Declared:
        return certificate_plan.declare(options)

    def check_store(self, store) -> str | None:
        """Why a store cannot keep a certificate bundle (several lines of PEM), or None."""
        if getattr(store, "format", None) == "env":
            return (
                "an env file keeps one line per value; a certificate with its key needs format pem, pkcs12, json "
                "or yaml"
            )
        return None

    def check_auth(self, module) -> None:
        if module.ksef_auth.method == "ksef_token":
            raise KsefConfigError("auth.ksef_token", "auth.ksef_token cannot manage certificates: " + _HOW_TO_LOG_IN)
        if module.ksef_auth.on_behalf:
            # The certificates are the signer's, whatever the context: every host that logs in with this signer on
            # behalf of a client would converge the same certificates, and revoke each other's.
            exclusive = _exclusive_trigger(module)
            fix = (
                "and set %s (ksef_certificates_exclusive) to false here: it converges the signer's certificates "
                "though none is declared" % exclusive
                if exclusive
                else "and declare only tokens here"
            )
            raise KsefConfigError(
                exclusive or "auth.on_behalf",
                "%scertificates are refused with auth.on_behalf: true: KSeF certificates belong to the subject that "
                "logs in, not to the context %s it acts for, so every host that logs in with this signer would "
                "converge the same certificates and revoke each other's. Declare them once, on the host whose "
                "context is the signer's own NIP (auth.on_behalf: false), %s (docs/role-company.md)"
                % (
                    "%s: %s: " % (exclusive, module.params.get(exclusive)) if exclusive else "auth.on_behalf: ",
                    module.ksef_context,
                    fix,
                ),
            )
        self._context = str(module.ksef_context)

    def protected(self, module) -> set:
        """The serial number of the certificate this run logged in with (auth.certificate or auth.pkcs12): revoking
        it, and emptying the file it is read from, would lock this run's later tasks and every later run out, so
        the planner refuses that unless the declaration says force: true."""
        if self._login_serials is None:
            self._login_serials = _login_serials(module)
        return set(self._login_serials)

    def lock_scope(self, module, context: str) -> str:
        """The login certificate (its serial number): two hosts of different contexts that log in with it and both
        declare a certificate run one after the other, so the second sees what the first enrolled and refuses it as
        another host's instead of enrolling a second one in the same moment."""
        serials = sorted(self.protected(module))
        return "certificates-of-login-%s" % serials[0] if serials else context

    def plan(self, declared, live, holdings, now, options, protected, auth_token_unknown):
        return certificate_plan.plan_subject(
            declared,
            live,
            holdings,
            now,
            exclusive=options.exclusive,
            protected=frozenset(protected),
            owned=self._owned,
        )

    def store_meta(self, declared, live, context: str) -> TokenMeta:
        return TokenMeta(
            name=declared.name,
            reference_number=live.reference_number,
            permissions=[live.certificate_type],
            created=live.created.isoformat(),
            context=context,
        )

    def completed(self, value: str, live) -> str:
        """The value the stores keep: the retrieved certificate and the key (PEM) made for it."""
        return bundle.compose(live.pem, bundle.load_key(value))

    # -- KSeF -------------------------------------------------------------------------------------------------

    def read_live(self, api, declared: list, options) -> list:
        wanted = certificate_plan.NAME_PREFIX
        if len(declared) == 1 and options.exclusive == "false":
            wanted = certificate_plan.ksef_name(declared[0].name)  # KSeF matches `contains`; plan checks exactly
        try:
            items = api.query_certificates(name=wanted, status="Active")
        except KsefApiError as exc:
            raise _explained(exc) from None
        if self._context is not None:
            self._journal = Journal(self._context, ENROLLED, options.journal_dir)
            self._owned = self._enrolled_here(api)
        return [certificate_plan.ActualCertificate.from_api(item) for item in items]

    def _enrolled_here(self, api) -> frozenset:
        """The serial numbers this controller enrolled for this context and has not revoked; an enrollment whose
        run died before KSeF finished it is asked for its serial number (read only: check mode writes nothing)."""
        owned = set()
        for reference, entry in self._journal.in_flight().items():
            if entry.get("action") == ENROLLED_ACTION:
                owned.add(reference)
                continue
            try:
                status = api.certificate_enrollment(reference)
            except KsefApiError as exc:
                if exc.status is not None and 400 <= exc.status < 500:  # unknown to KSeF: it issued nothing for it
                    self._resolved[reference] = None
                continue  # KSeF could not answer now: asked again by the next run
            code = (status.get("status") or {}).get("code")
            if code == ENROLLMENT_DONE and status.get("certificateSerialNumber"):
                owned.add(status["certificateSerialNumber"])
                self._resolved[reference] = (entry.get("name", ""), status["certificateSerialNumber"])
            elif code != ENROLLMENT_IN_PROGRESS:
                self._resolved[reference] = None
        return frozenset(owned)

    def _tidy(self) -> None:
        """Write down what an earlier run's enrollments turned out to be (a run that changes something only)."""
        resolved, self._resolved = self._resolved, {}
        for reference, found in resolved.items():
            if found is not None:
                self._journal.started(found[0], found[1], ENROLLED_ACTION, target=reference)
        if resolved:
            self._journal.ended(dict.fromkeys(resolved))

    def issue(self, api, plan) -> tuple:
        """Enroll: (enrollment reference number, private key PEM). The key is made here and only its CSR leaves."""
        declared = plan.declared
        self._tidy()
        try:
            if self._enrollment_data is None:
                self._enrollment_data = api.certificate_enrollment_data()
            key = bundle.generate_key(declared.key_type, declared.key_size)
            valid_from = declared.valid_from.isoformat() if declared.valid_from else None
            answer = api.enroll_certificate(
                certificate_plan.ksef_name(declared.name),
                declared.certificate_type,
                bundle.csr_base64(key, self._enrollment_data),
                valid_from,
            )
        except KsefApiError as exc:
            raise _explained(exc) from None
        # Remembered before waiting: a run that dies from here on leaves a certificate the next run must own.
        self._journal.started(declared.name, answer["referenceNumber"], ENROLLING)
        self._names[answer["referenceNumber"]] = declared.name
        return answer["referenceNumber"], bundle.key_pem(key)

    def activate(self, api, pending: dict, poller) -> dict:
        """Wait for every enrollment in `pending` (reference -> _Pending), then retrieve the certificates at once.
        Returns reference -> ActualCertificate (with its PEM) or KsefError (rejected, timeout)."""
        waiting, serials, requested = dict(pending), {}, {}
        done: dict = {}
        while waiting:
            for ref in list(waiting):
                try:
                    status = api.certificate_enrollment(ref)
                except KsefError as exc:  # this enrollment fails alone
                    done[ref] = exc
                    del waiting[ref]
                    continue
                code = (status.get("status") or {}).get("code")
                if code == ENROLLMENT_DONE:
                    serials[ref] = status["certificateSerialNumber"]
                    self._journal.started(self._names.get(ref, ""), serials[ref], ENROLLED_ACTION, target=ref)
                    self._journal.ended({ref: None})
                    requested[ref] = status.get("requestDate")
                    del waiting[ref]
                elif code != ENROLLMENT_IN_PROGRESS:
                    self._journal.ended({ref: None})  # rejected: nothing was issued
                    described = status.get("status") or {}
                    details = "; ".join(described.get("details") or []) or "no details given"
                    done[ref] = KsefError(
                        "KSeF rejected certificate enrollment %s: %s %s (%s)"
                        % (ref, code, described.get("description") or "", details)
                    )
                    del waiting[ref]
            if waiting and not poller.wait():
                for ref in waiting:
                    done[ref] = KsefError(
                        "certificate enrollment %s did not finish within wait_timeout %ss" % (ref, poller.timeout)
                    )
                break
        if serials:
            try:
                retrieved = {
                    item["certificateSerialNumber"]: item for item in api.retrieve_certificates(serials.values())
                }
            except KsefError as exc:
                return dict(done, **dict.fromkeys(serials, exc))
            for ref, serial in serials.items():
                item = retrieved.get(serial)
                if item is None:
                    done[ref] = KsefError("KSeF did not return certificate %s after issuing it" % serial)
                    continue
                # What a query would list, from what is at hand: the certificate itself and its enrollment.
                valid_from, valid_to = bundle.validity(item["certificate"])
                done[ref] = certificate_plan.ActualCertificate(
                    reference_number=serial,
                    status=certificate_plan.ACTIVE,
                    certificate_type=item.get("certificateType") or "",
                    certificate_name=item.get("certificateName") or "",
                    valid_from=valid_from,
                    valid_to=valid_to,
                    created=_timestamps.parse_or_none(requested[ref]) or datetime.now(timezone.utc),
                    pem=item["certificate"],
                )
        return done

    def issued(self, module, plan, live) -> None:
        """A certificate KSeF issued for no longer than renew_before is renewed by every run: said on the run that
        enrolls it, not only on the next one."""
        warning = certificate_plan.validity_warning(plan.declared, live)
        if warning:
            module.warn(warning)

    def verify(self, module, value: str) -> None:
        """Prove the new certificate: an Authentication certificate logs in; an Offline one is checked locally."""
        certificate, _key = bundle.split(value)
        now = datetime.now(timezone.utc)
        if certificate.not_valid_before_utc > now:
            module.warn(
                "certificate %016X is valid from %s: not proven by a login"
                % (certificate.serial_number, certificate.not_valid_before_utc.isoformat())
            )
            return
        from cryptography import x509

        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if usage.digital_signature:
            from ansible_collections.ksef.credentials.plugins.module_utils._auth import verify_certificate

            warning = verify_certificate(
                module.http,
                module.ksef_context,
                value,
                module.ksef_auth.subject_identifier_type,
                on_secret=module.register_secret,
            )
            if warning:  # the verification's own session, left to expire
                module.warn(warning)
        elif not usage.content_commitment:
            raise KsefError(
                "certificate %016X carries neither Digital Signature nor Non-Repudiation" % (certificate.serial_number)
            )

    def revoke(self, api, reference: str) -> None:
        self._tidy()
        api.revoke_certificate(reference, "Superseded")
        self._journal.ended({reference: None})

    def abandoned(self, api, plan, reference: str) -> str | None:
        """An enrollment whose certificate was never retrieved may have issued one all the same: the Active
        certificate of this name that the plan did not know of is the one to revoke (None: none was issued)."""
        known = {c.reference_number for c in plan.live}
        name = certificate_plan.ksef_name(plan.declared.name)
        fresh = [
            item["certificateSerialNumber"]
            for item in api.query_certificates(name=name, status="Active")
            if item.get("name") == name and item["certificateSerialNumber"] not in known
        ]
        return fresh[0] if len(fresh) == 1 else None


def _exclusive_trigger(module) -> str | None:
    """The exclusive option that makes a run with no certificate declared converge the subject's certificates
    (certificates_exclusive of the credentials module, exclusive of the certificates module), or None."""
    params = getattr(module, "params", None) or {}
    if params.get("certificates") or params.get("name"):
        return None
    option = "certificates_exclusive" if "certificates_exclusive" in params else "exclusive"
    return option if str(params.get(option) or "false").lower() != "false" else None


def _explained(exc: KsefApiError) -> KsefError:
    """KSeF's refusal in the collection's words when this login cannot manage certificates."""
    if _CANNOT_ENROLL & set(exc.codes or ()):
        return KsefConfigError("auth", "%s (KSeF answered: %s)" % (_HOW_TO_LOG_IN, exc))
    return exc
