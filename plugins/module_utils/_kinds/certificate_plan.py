# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate planner: declared KSeF certificates + the subject's live certificates + what the stores hold +
now -> plans. Pure: no I/O, no clock, no secrets.

Binding (docs/certificates.md): a KSeF certificate belongs to the authenticated subject (the NIP, PESEL or
fingerprint the module logged in with), never to a context. A managed certificate is recognised by its KSeF name,
`ksef-credentials NAME` (the only free field a certificate has, and KSeF allows no brackets in it), and the stores
recognise their value by the serial number of the certificate in it.

Vocabulary (as for tokens, `token_plan.py`)
- live certificate: a managed certificate with this name whose status is Active.
- current certificate: the newest live certificate some store holds (with no stores: the newest live one).
- previous certificate: a live certificate older than the current one; revoked once `revoke_previous_after`
  has passed since its successor was issued.
- orphan: a live certificate newer than the current one that no store holds (a run died between enrolling and
  storing); revoked once older than ORPHAN_MARGIN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ansible_collections.ksef.credentials.plugins.module_utils import _durations, _timestamps
from ansible_collections.ksef.credentials.plugins.module_utils import _plan as p
from ansible_collections.ksef.credentials.plugins.module_utils._certificate_bundle import DEFAULT_KEY_SIZES, KEY_TYPES
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError
from ansible_collections.ksef.credentials.plugins.module_utils._numbers import ascii_digits_hint

NAME_PREFIX = "ksef-credentials "
# KSeF's certificateName allows letters, digits, '_', '-' and spaces (5..100 characters): no '.' as token names have.
NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,62}"
_NAME_RE = re.compile(NAME_PATTERN)
TYPES = ("Authentication", "Offline")
EXCLUSIVE_CHOICES = ("false", "managed")
ORPHAN_MARGIN = p.ORPHAN_MARGIN
ACTIVE = p.ACTIVE  # the status of a certificate that logs in (certificate.py and certificate_drift.py read it here)
DEFAULT_RENEW_BEFORE = timedelta(days=30)


def ksef_name(name: str) -> str:
    """The certificateName KSeF keeps for a managed certificate."""
    return NAME_PREFIX + name


def name_of(certificate_name: str | None) -> str | None:
    """The managed name in a KSeF certificateName, or None for a certificate the collection does not manage."""
    if not certificate_name or not certificate_name.startswith(NAME_PREFIX):
        return None
    name = certificate_name[len(NAME_PREFIX) :]
    return name if _NAME_RE.fullmatch(name) else None


@dataclass(frozen=True)
class Declared:
    """One declared certificate, from the options of its entry (`declare`)."""

    name: str
    state: str = "present"
    certificate_type: str = "Authentication"
    key_type: str = "ec"
    key_size: int = 256
    renew_before: timedelta = DEFAULT_RENEW_BEFORE
    renew: bool = False
    valid_from: datetime | None = None
    revoke_previous_after: timedelta = timedelta(0)
    purge: bool = True
    force: bool = False

    def absent(self) -> dict:
        """The metadata once no certificate with this name is left."""
        return dict(self.predicted(), status="absent", certificate_type=None)

    def predicted(self) -> dict:
        """The metadata of the certificate a run enrolls for this declaration (KSeF assigns serial and dates)."""
        return {
            "name": self.name,
            "reference_number": None,
            "serial_number": None,
            "status": p.ACTIVE,
            "certificate_type": self.certificate_type,
            "valid_from": None,
            "valid_to": None,
            "created": None,
        }


@dataclass(frozen=True)
class ActualCertificate:
    """A certificate as POST /certificates/query lists it. `reference_number` is its serial number (the engine's
    identifier of a live credential); `pem` is the certificate itself once retrieved (public, not a secret)."""

    reference_number: str
    status: str
    certificate_type: str
    certificate_name: str
    valid_from: datetime
    valid_to: datetime
    created: datetime  # requestDate
    subject: str = ""
    last_used: datetime | None = None
    pem: str | None = None

    @classmethod
    def from_api(cls, item: dict) -> ActualCertificate:
        subject = item.get("subjectIdentifier") or {}
        return cls(
            reference_number=item["certificateSerialNumber"],
            status=item["status"],
            certificate_type=item["type"],
            certificate_name=item.get("name") or "",
            valid_from=_timestamps.parse(item["validFrom"]),
            valid_to=_timestamps.parse(item["validTo"]),
            created=_timestamps.parse(item["requestDate"]),
            subject="%s:%s" % (subject.get("type"), subject.get("value")) if subject else "",
            last_used=_timestamps.parse_or_none(item.get("lastUseDate")),
        )

    @property
    def name(self) -> str | None:
        return name_of(self.certificate_name)

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "reference_number": self.reference_number,
            "serial_number": self.reference_number,
            "status": self.status,
            "certificate_type": self.certificate_type,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "created": self.created.isoformat(),
        }


def _days(delta: timedelta) -> str:
    """A coarse duration for a reason text: whole days, or whole hours and minutes below a day."""
    delta = max(delta, timedelta(0))
    rounded = timedelta(days=delta.days) if delta.days else timedelta(minutes=delta.seconds // 60)
    return _durations.describe(rounded) or "0m"


WORDING = p.Wording("certificate", "private key", "requested", "renewal", _days, _durations.describe)


class LockoutError(KsefConfigError):
    """A run would revoke the certificate it logs in with (and empty the stores it is read from)."""


def _refuse_lockout(declared: Declared, live: list, protected, pruned: bool) -> None:
    login = next((c.reference_number for c in live if c.reference_number in protected), None)
    if login is None or declared.force:
        return
    consequence = (
        "certificate %s, which this run logs in with (auth), would be revoked and its stores emptied: this run's "
        "later tasks and every later run that logs in with it would be locked out" % login
    )
    if pruned:
        raise LockoutError(
            "exclusive",
            "exclusive: managed: name %r is no longer declared, and %s; declare %r again to keep it, or revoke it on "
            "purpose with state: absent and force: true" % (declared.name, consequence, declared.name),
        )
    raise LockoutError(
        "force",
        "%s: state is absent, and %s; set force: true to revoke it anyway (log in with another certificate or a "
        "KSeF token afterwards), or log in with another certificate first" % (declared.name, consequence),
    )


LAYOUT = "docs/role-company.md#whose-certificates-one-subject-many-companies"


class ForeignCertificateError(KsefConfigError):
    """A live certificate of a declared name is another host's: a run here would revoke or supersede it."""


def foreign(live: list, holdings, owned) -> list:
    """The live certificates that are not this host's: no store of it holds one, and this controller did not
    enroll it for this context (`owned`, from the journal of enrollments; None: ownership unknown, none)."""
    if owned is None:
        return []
    held = {h.reference_number for h in holdings if h.reference_number}
    return [c for c in live if c.reference_number not in held and c.reference_number not in owned]


def _refuse_foreign(declared: Declared, live: list, holdings, owned) -> None:
    others = foreign(live, holdings, owned)
    if not others or declared.force:
        return
    serials = ", ".join(c.reference_number for c in others)
    raise ForeignCertificateError(
        "certificates",
        "%s: active certificate %s of this login's subject is held by no store of this host and was "
        "not enrolled for this context from this controller: KSeF lists a subject's certificates across all its "
        "contexts, so another host declares %r with the same login, and converging it here would revoke that "
        "host's certificate; nothing was changed. Declare a subject's certificates on ONE host only "
        "(certificates / ksef_certificates of one host: a NIP's own context, or any one host for a person, %s) "
        "and remove %r "
        "here; if it is this host's own (its stores were lost), set force: true on %r to supersede it"
        % (declared.name, serials, declared.name, LAYOUT, declared.name, declared.name),
    )


def validity_warning(declared: Declared, current) -> str | None:
    """A certificate KSeF issues for less than renew_before is due at once: every run would renew it."""
    validity = current.valid_to - current.valid_from
    if validity > declared.renew_before:
        return None
    return (
        "certificate %s: KSeF issues it valid for %s (%s to %s), not longer than renew_before %s, so every run renews "
        "it; set renew_before below %s"
        % (
            declared.name,
            _days(validity),
            current.valid_from.isoformat(),
            current.valid_to.isoformat(),
            _durations.describe(declared.renew_before),
            _days(validity),
        )
    )


def plan(
    declared: Declared,
    certificates,
    holdings,
    now: datetime,
    margin: timedelta = ORPHAN_MARGIN,
    protected=frozenset(),
    pruned: bool = False,
) -> p.Plan:
    """The steps that bring KSeF and the stores to the declared state for one name. `protected`: serial numbers of
    the certificate this run logged in with, never revoked without declared.force (LockoutError); `pruned`: the name
    is revoked because exclusive no longer finds it declared."""
    live = sorted(
        (c for c in certificates if c.status == p.ACTIVE and c.name == declared.name and c.valid_to > now),
        key=lambda c: (c.created, c.reference_number),
        reverse=True,
    )
    holdings = list(holdings)
    if declared.state == "absent":
        _refuse_lockout(declared, live, protected, pruned)
        revokes = [p.Step(p.REVOKE, "state is absent", c.reference_number) for c in live]
        if declared.purge:
            filled = tuple(h.label for h in holdings if h.reference_number)
            if filled:
                revokes.append(
                    p.Step(p.PURGE, "state is absent: the stores keep no revoked certificate", stores=filled)
                )
        return p.Plan(declared, revokes, live[0] if live else None, live)

    current = p.current_of(live, holdings)
    labels = tuple(h.label for h in holdings)
    steps: list = []
    warnings: list = []
    issue = None
    if current is None:
        issue = p.first_issue(live, declared.name, labels, WORDING, p.RENEW)
    elif current.certificate_type != declared.certificate_type:
        issue = p.Step(
            p.REPLACE,
            "certificate_type differs (%s -> %s) and a certificate has one type for life"
            % (current.certificate_type, declared.certificate_type),
            current.reference_number,
            stores=labels,
        )
    elif declared.renew:
        issue = p.Step(p.RENEW, "renewal requested (renew: true)", current.reference_number, stores=labels)
    elif now >= current.valid_to - declared.renew_before:
        warning = validity_warning(declared, current)
        if warning:
            warnings.append(warning)
        issue = p.Step(
            p.RENEW,
            "valid to %s, %s left, within renew_before %s"
            % (current.valid_to.isoformat(), _days(current.valid_to - now), _durations.describe(declared.renew_before)),
            current.reference_number,
            stores=labels,
        )

    if issue is not None:
        steps.append(issue)
    else:
        if current is None:  # nothing to issue means a current certificate exists
            raise AssertionError("no current certificate and nothing to issue")
        copy = p.copy_step(
            current, holdings, lambda h: "%s holds %s" % (h.label, h.reference_number or "nothing"), "certificate"
        )
        if copy is not None:
            steps.append(copy)
        steps.append(
            p.Step(
                p.KEEP,
                "active %s certificate valid to %s, %s left, renewed %s before"
                % (
                    current.certificate_type,
                    current.valid_to.isoformat(),
                    _days(current.valid_to - now),
                    _durations.describe(declared.renew_before),
                ),
                current.reference_number,
            )
        )

    # The successor logs in from its validFrom on.
    steps += p.previous_steps(
        live, current, issue, now, declared.revoke_previous_after, margin, WORDING, successor_from=declared.valid_from
    )
    return p.Plan(declared, steps, current, live, warnings)


def plan_subject(
    declared,
    certificates,
    holdings: dict,
    now: datetime,
    exclusive: str = "false",
    protected=frozenset(),
    owned=None,
) -> p.ContextPlan:
    """Plan every declared certificate of the authenticated subject from one query of its certificates.
    `protected`: the serial numbers of the certificate this run logged in with (see plan). `owned`: the serial
    numbers this controller enrolled for this context (None: no guard); a live certificate of a declared name
    that neither a store of this host holds nor `owned` lists is another host's: the run is refused
    (ForeignCertificateError) unless the declaration says force: true, and exclusive never prunes one."""
    if exclusive not in EXCLUSIVE_CHOICES:
        raise ValueError("exclusive must be one of %s" % ", ".join(EXCLUSIVE_CHOICES))
    live = [c if isinstance(c, ActualCertificate) else ActualCertificate.from_api(c) for c in certificates]
    result = p.ContextPlan(declared={})
    for decl in declared:  # before any plan: a refusal changes nothing
        live_of = [c for c in live if c.name == decl.name and c.status == p.ACTIVE and c.valid_to > now]
        _refuse_foreign(decl, live_of, holdings.get(decl.name, []), owned)
    for decl in declared:
        one = plan(decl, live, holdings.get(decl.name, []), now, protected=protected)
        result.declared[decl.name] = one
        result.warnings += one.warnings
    if exclusive == "managed":
        undeclared = sorted({c.name for c in live if c.name and c.status == p.ACTIVE} - set(result.declared))
        for name in undeclared:
            # Its stores are known only from a store template (the engine passes their holdings under its name).
            others = {
                c.reference_number for c in foreign([c for c in live if c.name == name], holdings.get(name, []), owned)
            }
            gone = plan(
                Declared(name=name, state="absent"),
                [c for c in live if c.reference_number not in others],
                holdings.get(name, []),
                now,
                protected=protected,
                pruned=True,
            )
            if others:
                result.warnings.append(
                    "exclusive: managed leaves certificate %s of name %r alone: no store of this host "
                    "holds it and it was not enrolled for this context from this controller, so another host "
                    "declares it (%s)" % (", ".join(sorted(others)), name, LAYOUT)
                )
            gone.steps = [
                replace(
                    s,
                    reason="not declared (exclusive: managed)"
                    + (": the stores keep no revoked certificate" if s.action == p.PURGE else ""),
                )
                for s in gone.steps
            ]
            if gone.steps:  # nothing of it is this host's: nothing to say of it either
                result.undeclared.append(gone)
    return result


# -- one declaration from options ----------------------------------------------------------------------------


def validate_name(name) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise KsefConfigError(
            "name",
            "name must match ^%s$ (lower case letters, digits, '_' and '-'; at most 63 characters: KSeF allows no "
            "'.' in a certificate name), got %r" % (NAME_PATTERN, name),
        )
    return name


def declare(options: dict) -> Declared:
    """The declared certificate from the options of one entry; KsefConfigError naming the option, before any
    request."""
    name = validate_name(options.get("name"))
    certificate_type = options.get("certificate_type") or "Authentication"
    if certificate_type not in TYPES:
        raise KsefConfigError("certificate_type", "certificate_type must be Authentication or Offline")
    key_type = (options.get("key_type") or "ec").lower()
    if key_type not in KEY_TYPES:
        raise KsefConfigError("key_type", "key_type must be ec (P-256, recommended by KSeF) or rsa (2048 bits)")
    key_size = options.get("key_size") or DEFAULT_KEY_SIZES[key_type]
    if key_size not in KEY_TYPES[key_type]:
        raise KsefConfigError(
            "key_size",
            "KSeF takes %s keys of %s bits only, got %r"
            % (key_type.upper(), " or ".join(str(s) for s in KEY_TYPES[key_type]), key_size),
        )
    renew_before = _durations.parse(options.get("renew_before"), "renew_before")
    grace = _durations.parse(options.get("revoke_previous_after"), "revoke_previous_after") or timedelta(0)
    valid_from = None
    if options.get("valid_from"):
        valid_from = _timestamps.parse_or_none(str(options["valid_from"]))
        if valid_from is None:
            raise KsefConfigError(
                "valid_from",
                "valid_from must be an ISO 8601 date and time such as 2027-01-01T00:00:00Z"
                + ascii_digits_hint(str(options["valid_from"])),
            )
    return Declared(
        name=name,
        state=options.get("state") or "present",
        certificate_type=certificate_type,
        key_type=key_type,
        key_size=key_size,
        renew_before=DEFAULT_RENEW_BEFORE if renew_before is None else renew_before,
        renew=bool(options.get("renew")),
        valid_from=valid_from,
        revoke_previous_after=grace,
        purge=options.get("purge") is not False,
        force=bool(options.get("force")),
    )
