# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A saved plan: what a run planned and the state it planned from, as JSON, so a reviewed plan is applied exactly.

    plan_file: path   -> the run writes its plan (check mode too: the file is the output of a review, not a change)
    apply_plan: path  -> the run plans again and carries the plan out only if nothing it was made from moved:
                         the declarations, the live credentials, what each store holds, and the plan's steps

The document holds metadata only: reference numbers, statuses, permissions, store labels, reasons, and a SHA-256
of each declaration with every secret option masked first. Never a value, a key or a passphrase.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

from ansible.module_utils.basic import remove_values

from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError, KsefError
from ansible_collections.ksef.credentials.plugins.module_utils._text import control_character

FORMAT = "ksef.credentials/plan/1"
PLAN_ARGUMENT_SPEC = dict(
    plan_file=dict(type="path"),
    apply_plan=dict(type="path"),
)


def digest(module, item: dict) -> str:
    """SHA-256 of one declaration as given, with every no_log value masked first (a passphrase never leaves, not
    even hashed), so a changed declaration is seen without keeping it."""
    masked = remove_values(item, module.no_log_values)
    return hashlib.sha256(json.dumps(masked, sort_keys=True, default=str).encode()).hexdigest()


def document(cplan, entries: list, kind, context: str, api_url: str, made: str, lines: list) -> dict:
    """The saved plan of one run: the plan, what each credential will look like, and the state it was made from."""
    live = {}
    for plan in cplan.plans():
        for item in plan.live:
            live[item.reference_number] = item.metadata()
    for item, _step in cplan.unmanaged:
        live[item.reference_number] = item.metadata()
    return {
        "format": FORMAT,
        "kind": kind.noun,
        "api_url": api_url,
        "context": context,
        "made": made,
        "plan": cplan.rows(),
        "plan_text": lines,
        "summary": cplan.summary(),
        "after": {plan.declared.name: plan.after() for plan in cplan.plans()},
        "state": {
            "declared": {entry.name: entry.digest for entry in entries if entry.digest},  # not names exclusive revokes
            "live": live,
            "held": {entry.name: entry.held() for entry in entries},
        },
    }


def check_path(option: str, path: str) -> None:
    """A file name with a control character (a YAML block scalar's newline, a NUL) is refused naming the option."""
    if control_character(path):
        raise KsefConfigError(option, "%s must not contain control characters; got %r" % (option, path[:100]))


def check_writable(path: str) -> None:
    """Before any request: the plan file's directory must exist and be writable."""
    check_path("plan_file", path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise KsefConfigError("plan_file", "plan_file: directory %s does not exist; create it first" % directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise KsefConfigError("plan_file", "plan_file: directory %s is not writable by this user" % directory)


def write(module, path: str, doc: dict) -> None:
    """Atomically: a temp file in the same directory, then Ansible's atomic_move."""
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".ksef-plan-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=2, sort_keys=True)
            handle.write("\n")
        module.atomic_move(temp, os.path.abspath(path))
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def load(path: str) -> dict:
    """Read a saved plan before any request; a file that is not one is refused naming apply_plan."""
    check_path("apply_plan", path)
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise KsefConfigError("apply_plan", "apply_plan: cannot read %s (%s)" % (path, exc.strerror)) from None
    except ValueError:
        raise KsefConfigError(
            "apply_plan", "apply_plan: %s is not JSON; give a file written by plan_file" % path
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise KsefConfigError(
            "apply_plan", "apply_plan: %s is not a saved plan of this collection (format %s)" % (path, FORMAT)
        )
    return doc


def moved(saved: dict, current: dict) -> list:
    """What differs between the state a saved plan was made from and now, one line each, naming the credential;
    empty when the saved plan can be carried out exactly."""
    lines = []
    for key, noun in (("kind", "credential kind"), ("api_url", "API"), ("context", "context")):
        if saved.get(key) != current[key]:
            lines.append("the plan is for %s %s, this run for %s" % (noun, saved.get(key), current[key]))
    if lines:
        return lines
    state = saved.get("state") or {}
    lines += _names(state.get("declared") or {}, current["state"]["declared"], "declaration")
    lines += _live(state.get("live") or {}, current["state"]["live"], current["kind"])
    lines += _held(state.get("held") or {}, current["state"]["held"])
    lines += _steps(saved.get("plan") or [], current["plan"])
    return lines


def _names(saved: dict, now: dict, what: str) -> list:
    lines = []
    for name in sorted(set(saved) | set(now)):
        if name not in now:
            lines.append("%s: no longer declared" % name)
        elif name not in saved:
            lines.append("%s: declared since the plan was made" % name)
        elif saved[name] != now[name]:
            lines.append("%s: its %s changed since the plan was made" % (name, what))
    return lines


def _label(meta: dict, reference: str, noun: str) -> str:
    return "%s %s %s" % (noun, meta.get("name") or "(unmanaged)", reference)


def _live(saved: dict, now: dict, noun: str) -> list:
    lines = []
    for reference in sorted(set(saved) | set(now)):
        was, is_ = saved.get(reference) or {}, now.get(reference) or {}
        if not is_:
            lines.append("%s: gone (was %s)" % (_label(was, reference, noun), was.get("status")))
        elif not was:
            lines.append("%s: appeared (%s)" % (_label(is_, reference, noun), is_.get("status")))
        else:
            for field in sorted(set(was) | set(is_)):
                if was.get(field) != is_.get(field):
                    lines.append(
                        "%s: %s was %s, now %s" % (_label(is_, reference, noun), field, was.get(field), is_.get(field))
                    )
    return lines


def _held(saved: dict, now: dict) -> list:
    lines = []
    for name in sorted(set(saved) & set(now)):
        for label in sorted(set(saved[name]) | set(now[name])):
            was, is_ = saved[name].get(label), now[name].get(label)
            if was != is_:
                lines.append("%s: store %s held %s, now %s" % (name, label, was or "nothing", is_ or "nothing"))
    return lines


def _steps(saved: list, now: list) -> list:
    """One line per credential whose steps differ (a time limit passed, a grace period ended...)."""

    def by_name(rows) -> dict:
        steps: dict = {}
        for row in rows:
            name = row.get("name") or "unmanaged %s" % row.get("reference_number")
            steps.setdefault(name, []).append(
                "%s%s" % (row.get("action"), " %s" % row["reference_number"] if row.get("reference_number") else "")
            )
        return steps

    was, is_ = by_name(saved), by_name(now)
    return [
        "%s: the plan was %s, it would now be %s"
        % (name, ", ".join(was.get(name, [])) or "nothing", ", ".join(is_.get(name, [])) or "nothing")
        for name in sorted(set(was) | set(is_))
        if sorted(was.get(name, [])) != sorted(is_.get(name, []))
    ]


class PlanMovedError(KsefError):
    """apply_plan: what the saved plan was made from moved; nothing was changed."""

    def __init__(self, path: str, made, lines: list):
        super().__init__(
            "apply_plan: %s (made %s) no longer matches, nothing was changed: %s. Make a new plan and review it"
            % (path, made or "at an unknown time", "; ".join(lines))
        )
        self.lines = lines

    def to_result(self):
        return {"option": "apply_plan", "moved": self.lines}
