# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML page of the audit report: a Jinja2 template rendered with autoescape (`_report.to_html`).

Self-contained on purpose: auditors open it from file://, archive it and mail it; no external CSS, font or script.
Every value is escaped by Jinja2; the template marks nothing safe.
"""

# The page up to the cards of every kind; then each kind's section (its `Audit.html`), then PAGE_TAIL.
PAGE_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ report.title }}</title>
<style>
  :root { --bad: #b42318; --bad-bg: #fde4e2; --warn: #8a5a00; --warn-bg: #fff3cd; --good: #1d7a36;
          --line: #d9dde3; --head: #f3f5f8; --text: #1f2328; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text);
         margin: 0 auto; padding: 24px; max-width: 1600px; }
  /* Every table fits a 1400 px window: headers and long values wrap instead of widening the page. */
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 17px; margin: 28px 0 8px; }
  .meta { color: #57606a; margin: 0 0 16px; }
  .cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 16px; min-width: 140px; }
  .card b { display: block; font-size: 24px; }
  .card.bad b { color: var(--bad); } .card.warn b { color: var(--warn); } .card.good b { color: var(--good); }
  table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
  th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top;
           overflow-wrap: break-word; }
  table { font-size: 12.5px; }
  thead th { vertical-align: bottom; font-size: 11.5px; }
  td.host { overflow-wrap: anywhere; }
  td.path, td.env { word-break: break-all; }
  td.path { min-width: 14ch; }
  td.env { min-width: 6ch; }
  td.nowrap, td.ctx { white-space: nowrap; }
  /* The summary per company has a column per token finding kind and per other kind: narrower cells. */
  #summary th, #summary td { padding: 4px 3px; }
  .sub { color: #57606a; font-size: 12px; white-space: nowrap; }
  th { background: var(--head); position: sticky; top: 0; }
  table.sortable th { cursor: pointer; user-select: none; }
  table.sortable th::after { content: " \\2195"; color: #8c959f; }
  table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--text); }
  table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--text); }
  td.num, td[data-sort] { font-variant-numeric: tabular-nums; }
  td.ref { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 11.5px; overflow-wrap: normal;
           word-break: break-all; min-width: 14ch; }
  .filter { margin: 8px 0 0; }
  .filter select { font: inherit; padding: 2px 4px; }
  tr.error td, tr.has-findings.error td { background: var(--bad-bg); }
  tr.warning td, tr.has-findings.warning td { background: var(--warn-bg); }
  tr.company.has-findings td:first-child { border-left: 4px solid var(--bad); }
  tr.store-bad td { background: var(--bad-bg); }
  td.count-error { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
  td.count-warning { background: var(--warn-bg); color: var(--warn); font-weight: 600; }
  td.count-zero { color: #8c959f; }
  td.scan-error { color: var(--bad); font-weight: 600; min-width: 16ch; }
  td.total { font-weight: 700; }
  .badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; margin: 1px 0; }
  .badge.error { background: var(--bad); color: #fff; } .badge.warning { background: #e9b949; color: #3b2a00; }
  .badge.info { background: #dde7f3; color: #1b3a5c; }
  footer { color: #57606a; margin-top: 24px; font-size: 12px; }
  @media print { th { position: static; } }
</style>
</head>
<body>
<header>
  <h1>{{ report.title }}</h1>
  <p class="meta" id="scan-meta">Scanned <time id="generated-at" datetime="{{ report.generated_at }}">{{
    report.generated_at[:19] | replace("T", " ") }} UTC</time>
    &middot; environment <b id="environment">{{ report.environment }}</b>
{%- if report.api_urls | join(", ") != report.environment %} &middot; <span id="api-urls">{{ report.api_urls | join(", ") }}</span>{% endif %}</p>
  <p class="filter"><label>Environment <select id="environment-filter">
    <option value="">all ({{ report.environments | length }})</option>
{% for name in report.environments %}    <option value="{{ name }}">{{ name }}</option>
{% endfor %}  </select></label> shows the rows of one environment in every table.</p>
  <div class="cards">
    <div class="card"><b id="count-contexts">{{ s.contexts }}</b>companies</div>
{% for audit in audits %}    <div class="card"><b id="count-{{ audit.items_key }}">{{ s[audit.items_key] }}</b>{{ audit.card }}</div>
{% endfor %}    <div class="card {{ status_class }}" title="tokens, certificates and grants"><b id="count-findings">{{ s.findings_total }}</b>findings</div>
    <div class="card {{ status_class }}"><b id="count-errors">{{ s.errors }}</b>of them errors</div>
  </div>
</header>

"""

# The tokens: the summary per company, their findings, the tokens and the declared tokens with their stores.
TOKENS = """{% macro badges(found) -%}
{%- for kind in found %}<span class="badge {{ kind }} {{ severity.get(kind, 'warning') }}">{{ titles.get(kind,
  kind) }}</span>{{ ' ' if not loop.last }}{% endfor -%}
{%- endmacro %}
<h2>Summary per company</h2>
<table id="summary" class="sortable">
<thead><tr><th>Environment</th><th>Company</th><th>Scan</th><th data-type="number">Tokens</th><th data-type="number">Live</th>
<th data-type="number">Managed</th><th data-type="number">Unmanaged</th><th data-type="number">Declared</th>
{% for kind in kinds %}<th data-type="number" title="{{ kind }}">{{ titles[kind] }}</th>{% endfor %}
<th data-type="number" title="findings of the KSeF certificates">Certificate findings</th>
<th data-type="number" title="findings of the permission grants">Grant findings</th>
<th data-type="number" title="findings of every kind">Findings</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% set cs = ctx.summary %}
<tr class="company{{ ' has-findings' if cs.findings_total or ctx.error }}" data-context="{{ label(ctx.context) }}" data-environment="{{ ctx.environment }}">
<td class="env">{{ ctx.environment }}</td><td class="host">{{ ctx.host }}<div class="sub">{{ label(ctx.context) }}</div></td>
<td class="{{ 'scan-error' if ctx.error else 'scan-ok' }}">{{ ctx.error or 'ok' }}</td>
{% for key in ('tokens', 'live', 'managed', 'unmanaged', 'declared') %}<td data-sort="{{ cs[key] }}">{{ cs[key] }}</td>{% endfor %}
{% for kind in kinds %}{% set count = cs.findings[kind] %}<td data-sort="{{ count }}" class="{{
  ('count-' ~ severity[kind]) if count else 'count-zero' }}">{{ count }}</td>{% endfor %}
{% for prefix in ('certificate_', 'grant_') %}{% set count = cs[prefix ~ 'findings'].values() | sum %}<td data-sort="{{ count
  }}" class="{{ ('count-error' if cs[prefix ~ 'errors'] else 'count-warning') if count else 'count-zero' }}">{{ count }}</td>{% endfor %}
<td data-sort="{{ cs.findings_total }}" class="total">{{ cs.findings_total }}</td></tr>
{% endfor %}
</tbody>
<tfoot>
<tr><th colspan="3">All companies ({{ s.contexts }})</th>
{% for key in ('tokens', 'live', 'managed', 'unmanaged', 'declared') %}<td>{{ s[key] }}</td>{% endfor %}
{% for kind in kinds %}<td>{{ s.findings[kind] }}</td>{% endfor %}{% for prefix in ('certificate_', 'grant_')
  %}<td>{{ s[prefix ~ 'findings'].values() | sum }}</td>{% endfor %}<td class="total">{{ s.findings_total }}</td></tr>
</tfoot>
</table>

<h2>Findings</h2>
<table id="findings" class="sortable">
<thead><tr><th data-type="number">Severity</th><th data-type="number">Kind</th><th>Environment</th><th>Context</th><th>Name</th>
<th>Reference number</th><th>Store</th><th>Details</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% for f in ctx.findings %}
<tr class="finding {{ f.severity }}" data-kind="{{ f.kind }}" data-environment="{{ ctx.environment }}">
<td data-sort="{{ 0 if f.severity == 'error' else 1 }}">{{ f.severity }}</td>
<td data-sort="{{ kinds.index(f.kind) }}">{{ badges([f.kind]) }}</td><td class="env">{{ ctx.environment }}</td><td class="ctx">{{ label(ctx.context) }}</td>
<td>{{ f.name or '-' }}</td>
<td class="ref">{{ f.reference_number or '-' }}</td><td class="path">{{ f.store or '-' }}</td><td>{{ f.message }}</td></tr>
{% endfor %}{% endfor %}{% if not findings_count %}<tr class="empty"><td colspan="8">No findings.</td></tr>{% endif %}
</tbody>
</table>

<h2>Tokens</h2>
<table id="tokens" class="sortable">
<thead><tr><th>Environment</th><th>Context</th><th>Name</th><th>Reference number</th><th>Status</th><th>Permissions</th><th>Author</th>
<th>Created</th><th>Last used</th><th data-type="number">Age (days)</th><th data-type="number">Unused (days)</th>
<th>Rotate after</th><th>Stores</th><th data-type="number">Findings</th><th>Description</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% for t in ctx.tokens %}{% set tk = t.findings or [] %}
<tr class="{{ ('token has-findings ' ~ worst(tk)) if tk else 'token' }}" data-ref="{{ t.reference_number }}" data-environment="{{ ctx.environment }}">
<td class="env">{{ ctx.environment }}</td><td class="ctx">{{ label(ctx.context) }}</td><td>{{ t.name or '(unmanaged)' }}</td>
<td class="ref">{{ t.reference_number }}</td>
<td>{{ t.status }}</td><td>{{ (t.permissions or []) | join(', ') }}</td>
<td>{{ (t.author.type ~ ':' ~ t.author.value) if t.author and t.author.value else '-' }}</td>
<td data-sort="{{ t.created }}">{{ t.created[:19] | replace('T', ' ') }}</td>
<td data-sort="{{ t.last_used or '' }}">{{ (t.last_used or 'never')[:19] | replace('T', ' ') }}</td>
<td data-sort="{{ t.age_days }}" class="num">{{ t.age_days }}</td><td data-sort="{{ t.unused_days }}" class="num">{{ t.unused_days }}</td>
<td>{{ t.rotate_after or '-' }}</td><td class="path">{{ (t.stores | join(', ')) if t.stores else '-' }}</td>
<td data-sort="{{ tk | length }}">{{ badges(tk) }}</td><td>{{ t.description if t.description is not none }}</td></tr>
{% endfor %}{% endfor %}{% if not s.tokens %}<tr class="empty"><td colspan="15">No tokens.</td></tr>{% endif %}
</tbody>
</table>

<h2>Declared tokens and their stores</h2>
<table id="declared" class="sortable">
<thead><tr><th>Environment</th><th>Context</th><th>Name</th><th>State</th><th>Permissions</th><th>Rotate after</th><th>Current token</th>
<th>Store</th><th>Holds</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% for d in ctx.declared_tokens %}
{% for store in (d.stores or [{'label': '(no store)', 'reference_number': none, 'holds_current': none}]) %}{% set holds = store.holds_current %}
<tr class="{{ 'store-bad' if holds is sameas false else 'store' }}" data-environment="{{ ctx.environment }}"><td class="env">{{ ctx.environment }}</td>
<td class="ctx">{{ label(ctx.context) }}</td><td>{{ d.name }}</td>
<td>{{ d.state }}</td><td>{{ (d.permissions or []) | join(', ') }}</td><td>{{ d.rotate_after or '-' }}</td>
<td class="ref">{{ d.reference_number or 'none' }}</td><td class="path">{{ store.label }}</td>
<td>{{ '-' if holds is none else ('current' if holds else ('empty' if not store.reference_number else 'stale: ' ~ store.reference_number)) }}</td></tr>
{% endfor %}{% endfor %}{% endfor %}{% if not declared_count %}<tr class="empty"><td colspan="9">Nothing declared.</td></tr>{% endif %}
</tbody>
</table>

"""

# The KSeF certificates of the subjects the companies log in as, and their findings.
CERTIFICATES = """<h2>KSeF certificates</h2>
<table id="certificates" class="sortable">
<thead><tr><th>Environment</th><th>Host</th><th>Subject</th><th>Name</th><th>Serial number</th><th>Type</th><th>Status</th>
<th>Valid from</th><th>Valid to</th><th data-type="number">Days to expiry</th><th>Last used</th><th>Stores</th>
<th data-type="number">Findings</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% if ctx.certificate_error %}
<tr class="error" data-environment="{{ ctx.environment }}"><td class="env">{{ ctx.environment }}</td><td>{{ ctx.host }}</td>
<td colspan="11" class="scan-error">{{ ctx.certificate_error }}</td></tr>
{% endif %}{% for c in ctx.certificates %}{% set ck = c.findings or [] %}
{% set cbad = ck | select('in', ['missing', 'revoked_stored', 'store_missing']) | list %}
<tr class="{{ ('certificate has-findings ' ~ ('error' if cbad else 'warning')) if ck else 'certificate' }}"
 data-serial="{{ c.serial_number }}" data-environment="{{ ctx.environment }}">
<td class="env">{{ ctx.environment }}</td><td>{{ ctx.host }}</td><td>{{ c.subject }}</td><td>{{ c.name or '(' ~ c.certificate_name ~ ')' }}</td>
<td class="ref">{{ c.serial_number }}</td>
<td>{{ c.certificate_type }}</td><td>{{ c.status }}</td><td data-sort="{{ c.valid_from }}">{{ c.valid_from[:10] }}</td>
<td data-sort="{{ c.valid_to }}">{{ c.valid_to[:10] }}</td><td data-sort="{{ c.days_to_expiry }}" class="num">{{ c.days_to_expiry }}</td>
<td data-sort="{{ c.last_used or '' }}">{{ (c.last_used or 'never')[:19] | replace('T', ' ') }}</td>
<td class="path">{{ (c.stores | join(', ')) if c.stores else '-' }}</td>
<td data-sort="{{ ck | length }}">{% for kind in ck %}<span class="badge {{ kind }} {{ certificate_severity[kind] }}">{{
  certificate_titles[kind] }}</span>{{ ' ' if not loop.last }}{% endfor %}</td></tr>
{% endfor %}{% endfor %}{% if not s.certificates %}<tr class="empty"><td colspan="13">No certificates scanned.</td></tr>{% endif %}
</tbody>
</table>

<h2>Certificate findings</h2>
<table id="certificate-findings" class="sortable">
<thead><tr><th>Severity</th><th>Kind</th><th>Environment</th><th>Host</th><th>Name</th><th>Serial number</th><th>Store</th><th>Details</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% for f in ctx.certificate_findings %}
<tr class="finding {{ f.severity }}" data-kind="{{ f.kind }}" data-environment="{{ ctx.environment }}"><td>{{ f.severity }}</td>
<td><span class="badge {{ f.kind }} {{ f.severity }}">{{ certificate_titles[f.kind] }}</span></td><td class="env">{{ ctx.environment }}</td>
<td>{{ ctx.host }}</td>
<td>{{ f.name or '-' }}</td><td class="ref">{{ f.serial_number or '-' }}</td><td class="path">{{ f.store or '-' }}</td><td>{{ f.message }}</td></tr>
{% endfor %}{% endfor %}{% if not s.certificate_findings.values() | sum %}<tr class="empty"><td colspan="8">No findings.</td></tr>{% endif %}
</tbody>
</table>

"""

# The permission grants of each company, one row per permission, and their findings.
GRANTS = """<h2>Permission grants</h2>
<table id="grants" class="sortable">
<thead><tr><th>Environment</th><th>Context</th><th>Name</th><th>Kind</th><th>Permission</th><th>Subject</th>
<th>Can delegate</th><th>Granted by</th><th>Since</th><th>State</th><th>Managed</th><th data-type="number">Findings</th>
<th>Description</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% if ctx.grant_error %}
<tr class="error" data-environment="{{ ctx.environment }}"><td class="env">{{ ctx.environment }}</td><td class="ctx">{{ label(ctx.context) }}</td>
<td colspan="11" class="scan-error">{{ ctx.grant_error }}</td></tr>
{% endif %}{% for g in ctx.grants %}{% set gk = g.findings or [] %}
<tr class="{{ ('grant has-findings ' ~ ('error' if 'undeclared_manager' in gk else 'warning')) if gk | reject('eq', 'system_authored') | list else 'grant' }}"
 data-permission-id="{{ g.permission_id }}" data-environment="{{ ctx.environment }}">
<td class="env">{{ ctx.environment }}</td><td class="ctx">{{ label(ctx.context) }}</td><td>{{ g.name or '(undeclared)' }}</td>
<td>{{ g.kind }}</td><td title="{{ g.permission_id }}">{{ g.permission }}</td><td class="host">{{ subject_label(g.subject) or '-' }}</td>
<td>{{ 'yes' if g.can_delegate else 'no' }}</td><td class="host">{{ g.author }}</td>
<td data-sort="{{ g.start_date }}">{{ g.start_date[:19] | replace('T', ' ') }}</td><td>{{ g.state }}</td>
<td>{{ ('declared' if g.declared else 'managed') if g.managed else 'no' }}</td>
<td data-sort="{{ gk | length }}">{% for kind in gk %}<span class="badge {{ kind }} {{ grant_severity[kind] }}">{{
  grant_titles[kind] }}</span>{{ ' ' if not loop.last }}{% endfor %}</td><td>{{ g.description if g.description is not none }}</td></tr>
{% endfor %}{% endfor %}{% if not s.grants and not grants_scanned %}<tr class="empty"><td colspan="13">No permission grants scanned.</td></tr>
{% elif not s.grants %}<tr class="empty"><td colspan="13">No permission grants.</td></tr>{% endif %}
</tbody>
</table>

<h2>Permission grant findings</h2>
<table id="grant-findings" class="sortable">
<thead><tr><th>Severity</th><th>Kind</th><th>Environment</th><th>Context</th><th>Name</th><th>Permission id</th><th>Details</th></tr></thead>
<tbody>
{% for ctx in report.contexts %}{% for f in ctx.grant_findings %}
<tr class="finding {{ f.severity }}" data-kind="{{ f.kind }}" data-environment="{{ ctx.environment }}"><td>{{ f.severity }}</td>
<td><span class="badge {{ f.kind }} {{ f.severity }}">{{ grant_titles[f.kind] }}</span></td><td class="env">{{ ctx.environment }}</td>
<td class="ctx">{{ label(ctx.context) }}</td><td>{{ f.name or '-' }}</td><td class="ref">{{ f.permission_id or '-' }}</td><td>{{ f.message }}</td></tr>
{% endfor %}{% endfor %}{% if not s.grant_findings.values() | sum %}<tr class="empty"><td colspan="7">No findings.</td></tr>{% endif %}
</tbody>
</table>

"""

# The footer and the script that sorts and filters every table.
PAGE_TAIL = """<footer>Generated by the ksef.credentials collection. The report lists reference and serial numbers and permission ids
only, never a token value or a key.
Click a column header to sort; click again to reverse. Choose an environment to see only its rows.</footer>

<script>
(function () {
  "use strict";
  function key(cell, numeric) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) { return raw.toLowerCase(); }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.filter.call(body.rows, function (r) { return !r.classList.contains("empty"); });
    rows.forEach(function (r, i) { r.setAttribute("data-order", i); });
    rows.sort(function (a, b) {
      var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
      var c = x < y ? -1 : (x > y ? 1 : 0);
      if (c === 0) { return a.getAttribute("data-order") - b.getAttribute("data-order"); }
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  // The environment filter hides the rows of other environments in every table, and the totals of all of them.
  var filter = document.getElementById("environment-filter");
  filter.addEventListener("change", function () {
    var chosen = filter.value;
    Array.prototype.forEach.call(document.querySelectorAll("tr[data-environment]"), function (r) {
      r.hidden = chosen !== "" && r.getAttribute("data-environment") !== chosen;
    });
    Array.prototype.forEach.call(document.querySelectorAll("tfoot"), function (f) { f.hidden = chosen !== ""; });
  });
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.addEventListener("click", function () { sortBy(table, th); });
    });
  });
}());
</script>
</body>
</html>
"""
