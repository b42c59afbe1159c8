"""`make bench`: the tokens role at scale against the local emulator under the production limits.

For each workload of C contexts x T tokens it starts an emulator (`--rate-limits prd --time-scale S`),
writes an inventory of C hosts (one per context, a seeded manager token each) and measures, in one run:

- Ansible's floor: one `ansible.builtin.ping` task per host, same inventory, same forks;
- role, first converge: `ksef.credentials.tokens` creates every token;
- role, no-op: the same run again;
- naive (--naive): a fresh emulator and a loop of single `ksef.credentials.token` tasks, one per token;
- role no-op, module process (with the reference): the same no-op with KSEF_IN_PROCESS=0, so every module task
  starts its own Python process as a module on a remote host would (the action plugins otherwise run the module in
  Ansible's worker when it runs on the controller);
- role no-op, unvalidated (with the reference): the same no-op through `import_role` with `rolespec_validate:
  false`, without the task Ansible adds per host to check the role's variables (the module checks them too);
- reference (unless --no-reference): the same seven requests of a no-op from a minimal module with no
  engine around them (bench/reference/ksef_noop.py), once with httpx and once with http.client: what the
  work itself costs with each HTTP client, next to the floor and the role.

Each run's wall time is reported as a ratio to the floor measured in the same run, so a slow or busy
machine slows both sides alike. The default workload is 50 x 5 at -f 10; the no-op must stay within 1.5
times the floor and 1.2 times the reference with httpx (the bench exits 1 otherwise) and send no call beyond
one login, one list and one close per context.

Per run: wall time, API calls per operation (`GET /_emulator/stats`), 429 answers, and the bound the
production limits impose on that traffic: the longest time any one rate-limit counter (an operation in
a context, or a public operation per client IP) needs for the requests it received. "paced" is how long
the busiest counter actually took (from the limiter's shared state), to compare with its bound.

A paced workload (default 1 x 120, no verification logins, a slower time scale) is limit-bound: there
the whole run should come within about 10% of the bound, with zero 429.

Writes bench/results.json and prints a table. Usage:
  .venv/bin/python bench/run.py [--workload 20x10 --workload 100x5] [--time-scale 60] [--forks 10]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.ksef.credentials.plugins.module_utils._ratelimit import (  # noqa: E402
    PUBLIC_OPERATIONS, limits_for, minimal_span, window_lengths)
from ksef_emulator.testcerts import random_nip  # noqa: E402

VENV_BIN = Path(sys.executable).parent
MANAGER_PERMISSIONS = ["CredentialsManage", "CredentialsRead", "InvoiceRead", "InvoiceWrite"]
FLOOR_PLAYBOOK = """
- name: Ansible's own floor, one task per host
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""
NOOP_RATIO_LIMIT = 1.5
# ... and within 1.2 times the same requests from the bare reference module with httpx, in the same run.
NOOP_REFERENCE_LIMIT = 1.2
# The most a no-op may send per company: one login (its status is polled until KSeF has checked the token: up to
# three polls, KSeF's pace, not ours), one paged list (ceil(T/100) pages, added per workload) and one close.
NOOP_CALLS_PER_CONTEXT = {"POST /auth/challenge": 1, "POST /auth/ksef-token": 1, "GET /auth/{referenceNumber}": 3,
                          "POST /auth/token/redeem": 1, "DELETE /auth/sessions/current": 1}
ROLE_PLAYBOOK = """
- name: Converge the declared KSeF tokens of every company
  hosts: all
  gather_facts: false
  roles:
    - role: ksef.credentials.tokens
"""
# The same role without Ansible's per-host task that checks the role's variables (the module checks the same
# values before any request): what that task costs on a no-op.
ROLE_UNVALIDATED_PLAYBOOK = """
- name: Converge the declared KSeF tokens of every company
  hosts: all
  gather_facts: false
  tasks:
    - name: The role without Ansible's argument validation task
      ansible.builtin.import_role:
        name: ksef.credentials.tokens
        rolespec_validate: false
"""
NOOP_RUNS = ("role no-op", "role no-op, module process", "role no-op, unvalidated")
NAIVE_PLAYBOOK = """
- name: One ksef.credentials.token task per declared token
  hosts: all
  gather_facts: false
  tasks:
    - name: Declare each token on its own
      ksef.credentials.token:
        api_url: "{{ ksef_api_url }}"
        rate_limits: prd
        context: "{{ ksef_context }}"
        auth: "{{ ksef_auth }}"
        name: "{{ item.name }}"
        permissions: "{{ item.permissions }}"
        verify: "{{ item.verify | default(true) }}"
        store: "{{ item.store }}"
      loop: "{{ ksef_tokens }}"
      loop_control:
        label: "{{ item.name }}"
"""


REFERENCE_PLAYBOOK = """
- name: The requests of a no-op from a minimal module
  hosts: all
  gather_facts: false
  tasks:
    - name: Log in, list, read the stores, close
      ksef_bench.reference.ksef_noop:
        api_url: "{{ ksef_api_url }}"
        context: "{{ ksef_context }}"
        auth: "{{ ksef_auth }}"
        tokens: "{{ ksef_tokens }}"
        http: %s
"""
REFERENCE_CLIENTS = ("httpx", "http.client")


def reference_collections(workdir):
    """A throw-away collection holding bench/reference/ksef_noop.py; returns its collections path."""
    root = workdir / "reference"
    modules = root / "ansible_collections" / "ksef_bench" / "reference" / "plugins" / "modules"
    modules.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "bench" / "reference" / "ksef_noop.py", modules / "ksef_noop.py")
    return root


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    def __init__(self, workdir, time_scale, activation_delay):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / f"emulator-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ksef_emulator", "--host", "127.0.0.1", "--port", str(self.port),
             "--state-dir", str(workdir / f"state-{self.port}"), "--rate-limits", "prd",
             "--time-scale", str(time_scale), "--activation-delay", str(activation_delay)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/_emulator/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    def admin(self, method, path, **kwargs):
        response = httpx.request(method, f"{self.url}/_emulator/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def write_inventory(workdir, emulator, contexts, tokens, verify):
    """C hosts, each one context with its manager token and T declared tokens stored in files."""
    hosts = {}
    store_dir = workdir / f"stores-{emulator.port}"
    store_dir.mkdir(exist_ok=True)
    for index in range(contexts):
        nip = random_nip()
        manager = emulator.admin("POST", "tokens", json={"context": f"Nip:{nip}", "permissions": MANAGER_PERMISSIONS})
        hosts[f"company{index:03d}"] = {
            "ksef_context": {"nip": nip},
            "ksef_auth": {"ksef_token": manager["token"]},
        }
    declared = [{"name": f"app-{t:03d}", "description": f"application {t}", "permissions": ["InvoiceRead"],
                 "verify": verify,
                 "store": [{"type": "file", "path": str(store_dir) + "/{{ inventory_hostname }}-app-%03d.token" % t}]}
                for t in range(tokens)]
    inventory = {"all": {"hosts": hosts, "vars": {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "ksef_api_url": f"{emulator.url}/v2",
        "ksef_rate_limits": "prd",
        "ksef_tokens": declared,
    }}}
    path = workdir / f"inventory-{emulator.port}.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path, {name: h["ksef_context"]["nip"] for name, h in hosts.items()}


def run_playbook(workdir, text, inventory, forks, env):
    playbook = workdir / "playbook.yml"
    playbook.write_text(text)
    started = time.monotonic()
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(playbook), "-i", str(inventory), "-f", str(forks)],
                          capture_output=True, text=True, env=env, cwd=workdir, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"ansible-playbook failed with rc={proc.returncode}")
    return elapsed


def bound_of(stats, time_scale):
    """The shortest time the production limits allow for this traffic: the busiest counter's minimal span."""
    windows = window_lengths(time_scale)
    counters = []
    public = dict(stats["operations"])
    for context, operations in stats["by_context"].items():
        for operation, count in operations.items():
            public[operation] = public.get(operation, 0) - count
            counters.append((f"{context} {operation}", count, operation))
    counters += [(f"per IP {op}", n, op) for op, n in public.items() if op in PUBLIC_OPERATIONS and n > 0]
    best = ("-", 0, 0.0)
    for label, count, operation in counters:
        span = minimal_span(count, limits_for(operation, "prd"), windows)
        if span > best[2]:
            best = (label, count, span)
    return best


def paced_span(ratelimit_dir, label):
    """How long the busiest counter's requests actually took (first to last), from the shared state."""
    if label == "-":
        return 0.0
    scope, operation = (label.split(" ", 1) if not label.startswith("per IP ") else ("public", label[7:]))
    scope = scope.replace(":", "-")
    for path in Path(ratelimit_dir).glob(f"*_{scope}.json"):
        sent = sorted(json.loads(path.read_text()).get(operation, {}).get("sent", []))
        if len(sent) > 1:
            return sent[-1] - sent[0]
    return 0.0


def measure(name, workdir, emulator, inventory, playbook, forks, time_scale, ratelimit_dir, collections=(),
            extra_env=None):
    paths = os.pathsep.join([str(REPO / ".collections"), *map(str, collections)])
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=paths,
               KSEF_RATELIMIT_DIR=str(ratelimit_dir), KSEF_RATELIMIT_TIME_SCALE=str(time_scale),
               KSEF_LOCK_DIR=str(workdir / "locks"), ANSIBLE_HOST_KEY_CHECKING="False",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(extra_env or {}))
    emulator.admin("POST", "stats/reset")
    print(f"  {name} ...", flush=True)
    wall = run_playbook(workdir, playbook, inventory, forks, env)
    stats = emulator.admin("GET", "stats")
    label, count, bound = bound_of(stats, time_scale)
    production_bound = bound_of(stats, 1.0)[2]
    return {
        "run": name, "wall_seconds": round(wall, 2), "calls": stats["total"],
        "operations": dict(sorted(stats["operations"].items())),
        "status_429": stats["by_status"].get("429", 0),
        "bound_seconds": round(bound, 2), "bound_counter": label, "bound_requests": count,
        "paced_seconds": round(paced_span(ratelimit_dir, label), 2),
        "production_bound_seconds": round(production_bound, 1),
        "wall_over_bound": round(wall / bound, 2) if bound else None,
    }


def workload(spec, time_scale, forks, activation_delay, naive=True, verify=True, floor=True, reference=True):
    contexts, tokens = (int(part) for part in spec.lower().split("x"))
    workdir = Path(tempfile.mkdtemp(prefix=f"ksef-bench-{spec}-"))
    results = []
    try:
        emulator = Emulator(workdir, time_scale, activation_delay)
        try:
            inventory, _nips = write_inventory(workdir, emulator, contexts, tokens, verify)
            rl = workdir / "ratelimit-role"
            if floor:
                results.append(measure("ansible floor (ping)", workdir, emulator, inventory, FLOOR_PLAYBOOK, forks,
                                       time_scale, rl))
            results.append(measure("role first converge", workdir, emulator, inventory, ROLE_PLAYBOOK, forks,
                                   time_scale, rl))
            results.append(measure("role no-op", workdir, emulator, inventory, ROLE_PLAYBOOK, forks, time_scale, rl))
            if reference:
                results.append(measure("role no-op, module process", workdir, emulator, inventory, ROLE_PLAYBOOK, forks,
                                       time_scale, rl, extra_env={"KSEF_IN_PROCESS": "0"}))
                results.append(measure("role no-op, unvalidated", workdir, emulator, inventory,
                                       ROLE_UNVALIDATED_PLAYBOOK, forks, time_scale, rl))
                collections = [reference_collections(workdir)]
                for client in REFERENCE_CLIENTS:
                    results.append(measure(f"reference: {client}", workdir, emulator, inventory,
                                           REFERENCE_PLAYBOOK % client, forks, time_scale, rl, collections))
            if floor:  # the floor again, after the role: the ratio uses the mean of both, so drift in load cancels
                results.append(measure("ansible floor (ping)", workdir, emulator, inventory, FLOOR_PLAYBOOK, forks,
                                       time_scale, rl))
        finally:
            emulator.stop()
        if naive:
            emulator = Emulator(workdir, time_scale, activation_delay)
            try:
                inventory, _nips = write_inventory(workdir, emulator, contexts, tokens, verify)
                results.append(measure("naive token loop", workdir, emulator, inventory, NAIVE_PLAYBOOK, forks,
                                       time_scale, workdir / "ratelimit-naive"))
            finally:
                emulator.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    floors = [run["wall_seconds"] for run in results if run["run"].startswith("ansible floor")]
    floor_seconds = sum(floors) / len(floors) if floors else None
    for run in results:
        run["ratio_to_floor"] = round(run["wall_seconds"] / floor_seconds, 2) if floor_seconds else None
    return {"workload": spec, "contexts": contexts, "tokens_per_context": tokens, "time_scale": time_scale,
            "forks": forks, "verify": verify, "floor_seconds": floor_seconds, "runs": results}


def check_noop(item) -> list:
    """What a no-op must keep: the ratio to the floor, zero 429 and no call beyond login, list and close."""
    problems = []
    for run in item["runs"]:
        if run["run"] not in NOOP_RUNS:
            continue
        if run["run"] == "role no-op" and run["ratio_to_floor"] is not None \
                and run["ratio_to_floor"] > NOOP_RATIO_LIMIT:
            problems.append("no-op takes %.2f x Ansible's floor (limit %.1f)"
                            % (run["ratio_to_floor"], NOOP_RATIO_LIMIT))
        if run["status_429"]:
            problems.append("%s got %d answers 429" % (run["run"], run["status_429"]))
        expected = {op: n * item["contexts"] for op, n in NOOP_CALLS_PER_CONTEXT.items()}
        expected["GET /tokens"] = -(-item["tokens_per_context"] // 100) * item["contexts"]
        extra = {op: n for op, n in run["operations"].items() if n > expected.get(op, 0)
                 and op != "GET /security/public-key-certificates"}
        if extra:
            problems.append("%s made extra calls: %s" % (run["run"], extra))
    for run in item["runs"]:
        if run["status_429"]:
            problems.append("%s got %d answers 429" % (run["run"], run["status_429"]))
    # The reference is a fair comparison only while it sends the no-op's requests (polls follow KSeF's pace).
    noop = next((run for run in item["runs"] if run["run"] == "role no-op"), None)
    reference = next((run for run in item["runs"] if run["run"] == "reference: httpx"), None)
    if noop and reference and noop["wall_seconds"] > NOOP_REFERENCE_LIMIT * reference["wall_seconds"]:
        problems.append("no-op takes %.2f x the reference with httpx (limit %.1f)"
                        % (noop["wall_seconds"] / reference["wall_seconds"], NOOP_REFERENCE_LIMIT))
    for run in item["runs"]:
        if noop and run["run"].startswith("reference: "):
            differ = {op: (noop["operations"].get(op, 0), run["operations"].get(op, 0))
                      for op in set(noop["operations"]) | set(run["operations"])
                      if op != "GET /auth/{referenceNumber}"
                      and noop["operations"].get(op, 0) != run["operations"].get(op, 0)}
            if differ:
                problems.append("%s sent other requests than the no-op (no-op, reference): %s" % (run["run"], differ))
    return sorted(set(problems))


def print_table(report):
    head = f"{'workload':<16} {'run':<27} {'wall s':>7} {'x floor':>7} {'calls':>6} {'POST':>5} {'GET':>5} " \
           f"{'logins':>6} {'429':>4} {'bound s':>8} {'paced s':>8} {'prd bound':>10}  busiest counter"
    print(head)
    print("-" * len(head))
    for item in report["workloads"]:
        label = f"{item['workload']} S={item['time_scale']:g}"
        for run in item["runs"]:
            ops = run["operations"]
            ratio = f"{run['ratio_to_floor']:.2f}" if run.get("ratio_to_floor") is not None else "-"
            print(f"{label:<16} {run['run']:<27} {run['wall_seconds']:>7.1f} {ratio:>7} {run['calls']:>6} "
                  f"{ops.get('POST /tokens', 0):>5} {ops.get('GET /tokens', 0):>5} "
                  f"{ops.get('POST /auth/token/redeem', 0):>6} {run['status_429']:>4} {run['bound_seconds']:>8.1f} "
                  f"{run['paced_seconds']:>8.1f} {run['production_bound_seconds']:>9.0f}s  "
                  f"{run['bound_counter']} x{run['bound_requests']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", action="append", help="CxT: C contexts x T tokens (default 50x5)")
    parser.add_argument("--time-scale", type=float, default=60.0, help="emulator --time-scale for the workloads")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--paced", default="1x120", help="a limit-bound workload without verification ('' to skip)")
    parser.add_argument("--paced-time-scale", type=float, default=4.0)
    parser.add_argument("--activation-delay", type=float, default=1.0)
    parser.add_argument("--naive", action="store_true", help="also run the naive loop of single token tasks")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="skip the minimal reference module (bench/reference/ksef_noop.py)")
    parser.add_argument("--output", default=str(REPO / "bench" / "results.json"))
    args = parser.parse_args()

    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(), "workloads": []}
    problems = []
    for spec in args.workload or ["50x5"]:
        print(f"workload {spec} ...", flush=True)
        item = workload(spec, args.time_scale, args.forks, args.activation_delay, naive=args.naive,
                        reference=args.reference)
        report["workloads"].append(item)
        problems += ["%s: %s" % (spec, problem) for problem in check_noop(item)]
    if args.paced:
        print(f"paced workload {args.paced} ...", flush=True)
        item = workload(args.paced, args.paced_time_scale, args.forks, args.activation_delay, naive=False,
                        verify=False, floor=False, reference=False)
        report["workloads"].append(item)
        problems += ["%s: %s" % (args.paced, problem) for problem in check_noop(item)]
    report["problems"] = problems
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print()
    print_table(report)
    for item in report["workloads"]:
        first = next((run for run in item["runs"] if run["run"] == "role first converge"), None)
        if first and item.get("floor_seconds"):
            print(f"\n{item['workload']}: first converge {first['wall_seconds']:.1f}s = {first['ratio_to_floor']:.2f} x "
                  f"Ansible's floor ({item['floor_seconds']:.1f}s); the rate limits impose at least "
                  f"{first['bound_seconds']:.1f}s at this time scale ({first['production_bound_seconds']:.0f}s in "
                  f"production) for its busiest counter, {first['bound_counter']} x{first['bound_requests']}")
        ratios = {run["run"]: run["ratio_to_floor"] for run in item["runs"]}
        if "role no-op" in ratios and "reference: httpx" in ratios:
            print(f"{item['workload']}: no-op {ratios['role no-op']:.2f} x the floor; the same requests from a minimal "
                  f"module {ratios['reference: httpx']:.2f} x with httpx, {ratios['reference: http.client']:.2f} x "
                  f"with http.client")
            walls = {run["run"]: run["wall_seconds"] for run in item["runs"]}
            print(f"{item['workload']}: no-op {walls['role no-op'] / walls['reference: httpx']:.2f} x the reference "
                  f"with httpx; without Ansible's argument validation task "
                  f"{walls['role no-op, unvalidated'] / walls['reference: httpx']:.2f} x; with a module process "
                  f"per task {walls['role no-op, module process'] / walls['reference: httpx']:.2f} x")
    print(f"\nwritten to {args.output}")
    for problem in problems:
        print("PROBLEM: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
