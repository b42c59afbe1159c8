# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings: what an auditor should know about the live objects of any kind, against what is declared.

One `Finding` type for every kind. Each kind's drift module (`_drift.py` for tokens, `_kinds/certificate_drift.py`)
keeps a `Catalogue` of its finding kinds: their report order, their severity (`error`: a consumer breaks or a secret
is at risk; `warning`: housekeeping; `info`: worth knowing) and the name its objects' identifier has in results
(`reference_number`, `serial_number`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One thing an auditor should know about a credential or a store: its kind, how serious, and what it is."""

    kind: str
    severity: str
    message: str
    name: str | None = None  # the managed name, when the object has one
    reference: str | None = None  # the live object's identifier
    store: str | None = None  # the store the finding is about
    id_key: str = field(default="reference_number", compare=False)  # what `reference` is called in results

    @property
    def label(self) -> str:
        """How a person finds the object again: its name, or its identifier."""
        return self.name or self.reference or ""

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "name": self.name,
            self.id_key: self.reference,
            "reference": self.reference,  # the same, under the name every kind's findings share
            "store": self.store,
            "message": self.message,
        }


@dataclass(frozen=True)
class Catalogue:
    """The finding kinds of one kind of object."""

    order: tuple  # report order, most serious first
    severity: dict  # finding kind -> error | warning | info
    id_key: str  # what the identifier of a live object is called in results

    def finding(
        self,
        kind: str,
        message: str,
        name: str | None = None,
        reference: str | None = None,
        store: str | None = None,
        severity: str | None = None,
    ) -> Finding:
        """A finding of `kind`, with the catalogue's severity unless one that depends on time is given."""
        return Finding(kind, severity or self.severity[kind], message, name, reference, store, self.id_key)

    def summary(self, findings: list) -> dict:
        """Finding kind -> how many, every kind of the catalogue listed."""
        counts = dict.fromkeys(self.order, 0)
        for found in findings:
            counts[found.kind] = counts.get(found.kind, 0) + 1
        return counts
