#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: audit_report
short_description: Write the KSeF credential audit report (JSON, HTML, CSV) from the info results of many contexts
version_added: 0.1.0
description:
  - Gathers the results of the info modules (M(ksef.credentials.token_info), M(ksef.credentials.certificate_info),
    M(ksef.credentials.permission_info)) for every company of a run into one report and writes C(report.json)
    (schema C(docs/report.schema.json)), C(report.html) (a self-contained page with sortable tables and an
    environment filter, no external assets) and C(report.csv) (one row per token, per KSeF certificate and per
    permission grant) into O(dest).
  - Each info result says its kind (C(kind)), so O(scans) takes the results of any of them, one or a list per host.
  - The scans of several environments (TEST, DEMO, PROD) combine into one report; each company is listed with the
    environment it was scanned in (O(environments)).
  - Makes no KSeF call. Run it once per play on the controller, for example with C(run_once) and
    delegated to C(localhost), after the info modules ran on every host.
  - A report holds reference numbers and metadata only. The module refuses to write a report that contains
    anything shaped like a token value.
author:
  - ksef.credentials maintainers (@ksef-credentials)
attributes:
  check_mode:
    support: full
    description: Builds the report and says whether the files would change, without writing them.
  diff_mode:
    support: none
    description: Reports are regenerated as a whole; no diff is shown.
options:
  dest:
    description:
      - Directory the reports are written to. Created when missing.
    type: path
    required: true
  scans:
    description:
      - The registered results of the info modules per inventory host, as a dictionary host -> result, or host ->
        a list of results (for example the host's M(ksef.credentials.token_info),
        M(ksef.credentials.certificate_info) and M(ksef.credentials.permission_info) results). Each result says its
        kind (C(kind)); its rows, findings and counts go to that kind's part of the company.
      - A failed or skipped result, or an empty one, is listed in the report as a company that could not be
        scanned. A failed result of O(certificate_scans) or O(grant_scans) is listed as certificates or grants that
        could not be scanned.
      - Anything else (a number, a text) fails the task before anything is written, naming the entry
        (C(scans.c1[0]), also as C(option)); so do O(certificate_scans) and O(grant_scans).
    type: dict
    required: true
  certificate_scans:
    description:
      - The older spelling of a certificate_info result in O(scans) (host -> result), for the subject that host logs
        in as. Each host's certificates, with serial number, type, status, validity, days to expiry and stores, and
        their findings, are listed next to its tokens.
      - Its results are added to those of O(scans).
    type: dict
  grant_scans:
    description:
      - The older spelling of a permission_info result in O(scans) (host -> result). Each host's permission grants
        are listed, one row per permission, with who holds it, since when, granted by whom and whether the
        collection manages it, and their findings (an undeclared V(CredentialsManage) holder is an error, a row
        granted by C(System) is info).
      - Its results are added to those of O(scans).
    type: dict
    version_added: 0.2.0
  environments:
    description:
      - The environment each host is reported under (host -> name), so that the scans of several environments
        combine into one report with the environment as a column and a filter.
      - A name such as V(test), V(demo), V(prod) or one of your own (V(staging)), or an API URL, which is reported as
        the environment it belongs to (V(test), V(demo), V(prod)) or, for another URL (an emulator, a proxy), as the
        URL itself.
      - A host not named here gets O(environment), else the environment of the API URL it was scanned at.
    type: dict
    version_added: 0.2.0
  environment:
    description:
      - The environment of every host not named in O(environments), and the environment named at the top of the
        report.
      - Not set means the environment of each host's API URL (V(test), V(demo), V(prod), or the URL itself for
        another one), and at the top of the report every environment of its hosts.
    type: str
  title:
    description:
      - Title of the HTML page and of the JSON report.
    type: str
    default: KSeF credential audit
  formats:
    description:
      - Which files to write.
    type: list
    elements: str
    choices: [json, html, csv]
    default: [json, html, csv]
  mode:
    description:
      - File mode of the reports. They hold no secret but describe who may do what.
    type: raw
    default: "0640"
seealso:
  - module: ksef.credentials.token_info
  - module: ksef.credentials.certificate_info
  - module: ksef.credentials.permission_info
"""

EXAMPLES = r"""
- name: Scan every company of the inventory
  ksef.credentials.token_info:
    api_url: "{{ ksef_api_url }}"
    context: "{{ ksef_context }}"
    auth: "{{ ksef_auth }}"
    status: [Pending, Active]
    declared: "{{ ksef_tokens }}"
    rotate_after: 90d
    unused_after: 30d
  register: ksef_scan

- name: Write report.json, report.html and report.csv once, on the controller
  ksef.credentials.audit_report:
    dest: /srv/audit/ksef
    scans: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'ksef_scan'))) }}"
  run_once: true
  delegate_to: localhost

- name: One report of the hosts of every environment (acme-test, acme-demo, acme-prod, ...)
  ksef.credentials.audit_report:
    dest: /srv/audit/ksef
    scans: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'ksef_scan'))) }}"
    environments: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'ksef_environment'))) }}"
  run_once: true
  delegate_to: localhost

- name: Who holds what in each company, judged against the declared grants
  ksef.credentials.permission_info:
    api_url: "{{ ksef_api_url }}"
    context: "{{ ksef_context }}"
    auth: "{{ ksef_auth }}"
    declared: "{{ ksef_grants }}"
  register: ksef_grant_scan

- name: Each host's results, of any info module, as one list
  ansible.builtin.set_fact:
    ksef_scans: "{{ [ksef_scan, ksef_grant_scan] }}"

- name: The report with the tokens and the permission grants of every company
  ksef.credentials.audit_report:
    dest: /srv/audit/ksef
    scans: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'ksef_scans'))) }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: Path of each report written (or that would be written in check mode), per format.
  returned: always
  type: dict
  sample: {json: /srv/audit/ksef/report.json, html: /srv/audit/ksef/report.html, csv: /srv/audit/ksef/report.csv}
summary:
  description:
    - The report's summary (companies; tokens, certificates, grants and their findings per kind).
    - C(findings_total) and C(errors) count the findings of every kind (tokens, certificates, grants);
      C(certificate_errors) and C(grant_errors) those of one kind.
  returned: always
  type: dict
  sample: {contexts: 3, tokens: 12, findings_total: 7, errors: 2, findings: {missing: 1, unmanaged: 2}, certificates: 2,
           grants: 9, grant_findings: {undeclared_manager: 2, system_authored: 2}, grant_errors: 2}
generated_at:
  description: The report's time stamp (ISO 8601, UTC).
  returned: always
  type: str
"""

import os
import tempfile
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

# First: the code below is compiled once and kept for the next runs (AnsiballZ imports it from a zip).
from ansible_collections.ksef.credentials.plugins.module_utils import _bytecode  # noqa: F401  # pylint: disable=unused-import

# isort: split
from ansible_collections.ksef.credentials.plugins.module_utils import _report
from ansible_collections.ksef.credentials.plugins.module_utils._errors import KsefConfigError

RENDERERS = {"json": _report.to_json, "html": _report.to_html, "csv": _report.to_csv}


def _write(module, path: str, text: str) -> bool:
    """Atomic write; False when the file already has this content."""
    data = text.encode("utf-8")
    if os.path.exists(path):
        with open(path, "rb") as current:
            if current.read() == data:
                return False
    if module.check_mode:
        return True
    fd, tmp = tempfile.mkstemp(prefix=".report-", dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    module.atomic_move(tmp, path)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            scans=dict(type="dict", required=True),
            certificate_scans=dict(type="dict"),
            grant_scans=dict(type="dict"),
            environments=dict(type="dict"),
            environment=dict(type="str"),
            title=dict(type="str", default=_report.TITLE),
            formats=dict(type="list", elements="str", choices=list(RENDERERS), default=list(RENDERERS)),
            mode=dict(type="raw", default="0640"),
        ),
        supports_check_mode=True,
    )
    if _report.JINJA2_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("Jinja2"), exception=str(_report.JINJA2_IMPORT_ERROR))
    params = module.params
    # Before anything is built or written: every entry of the scans is a registered info result.
    try:
        _report.check_scans("scans", params["scans"])
        _report.check_scans("certificate_scans", params.get("certificate_scans"), many=False)
        _report.check_scans("grant_scans", params.get("grant_scans"), many=False)
    except KsefConfigError as exc:
        module.fail_json(msg=exc.message, option=exc.option)
    generated_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    report = _report.build(
        params["scans"],
        generated_at,
        environment=params.get("environment"),
        title=params.get("title"),
        certificate_scans=params.get("certificate_scans"),
        environments=params.get("environments"),
        grant_scans=params.get("grant_scans"),
    )
    # Unchanged content keeps the times of the report already written: a rerun changes no file.
    previous = os.path.join(params["dest"], "report.json")
    if os.path.isfile(previous):
        with open(previous, encoding="utf-8") as handle:
            report = _report.keep_times(report, handle.read())
    generated_at = report["generated_at"]
    try:
        rendered = {fmt: RENDERERS[fmt](report) for fmt in params["formats"]}
    except _report.UnsafeReportError as exc:
        module.fail_json(msg=str(exc))

    dest = params["dest"]
    if not module.check_mode:
        os.makedirs(dest, exist_ok=True)
    changed = False
    files = {}
    for fmt, text in rendered.items():
        path = os.path.join(dest, "report.%s" % fmt)
        files[fmt] = path
        changed = _write(module, path, text) or changed
        if not module.check_mode:
            file_args = module.load_file_common_arguments(dict(path=path, mode=params["mode"]))
            changed = module.set_fs_attributes_if_different(file_args, changed)
    module.exit_json(changed=changed, files=files, summary=report["summary"], generated_at=generated_at)


if __name__ == "__main__":
    main()
