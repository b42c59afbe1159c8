"""`make demo`: the KSeF emulator, a self-signed certificate, and the demo playbook run twice.

Everything happens on loopback in build/demo/; nothing touches a real KSeF environment.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from ksef_emulator import testcerts

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build" / "demo"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(port: int) -> subprocess.Popen:
    log = open(BUILD / "emulator.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ksef_emulator", "--host", "127.0.0.1", "--port", str(port),
         "--state-dir", str(BUILD / "emulator-state"), "--activation-delay", "0.5"],
        stdout=log, stderr=subprocess.STDOUT)
    for _attempt in range(100):
        if proc.poll() is not None:
            sys.exit(f"the emulator stopped at start; see {BUILD / 'emulator.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("the emulator did not start in 10 s")


def run_playbook(extra: list[str]) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="False",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(REPO / "docs/examples/demo.yml"), *extra]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)  # Ansible's warnings (the end of token authentication, for one)
    if proc.returncode != 0:
        raise SystemExit(f"ansible-playbook failed with exit code {proc.returncode}")
    return proc.stdout


def recap_changed(output: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    return int(match.group(1)) if match else -1


def main() -> None:
    shutil.rmtree(BUILD, ignore_errors=True)
    (BUILD / "cert").mkdir(parents=True)
    nip = testcerts.random_nip()
    cert = testcerts.generate_certificate(BUILD / "cert", nip=nip, kind="person")
    port = free_port()
    print(f"== KSeF emulator on http://127.0.0.1:{port}/v2, company NIP {nip}, self-signed certificate "
          f"{cert.cert_path.relative_to(REPO)}")
    proc = start_emulator(port)
    try:
        extra = ["-e", f"ksef_api_url=http://127.0.0.1:{port}/v2", "-e", f"ksef_nip={nip}",
                 "-e", f"ksef_certificate={cert.cert_path}", "-e", f"ksef_private_key={cert.key_path}",
                 "-e", f"ksef_output_dir={BUILD / 'secrets'}"]
        print("== First run: authenticate with XAdES, create the declared tokens, write them to files")
        first = run_playbook(extra)
        print("== Second run: nothing to do")
        second = run_playbook(extra)
        tokens = httpx.get(f"http://127.0.0.1:{port}/_emulator/tokens", params={"context": f"Nip:{nip}"}).json()
    finally:
        proc.terminate()
        proc.wait(10)
    items = tokens.get("tokens", tokens) if isinstance(tokens, dict) else tokens
    print("\n== Summary")
    print(f"first run changed={recap_changed(first)}, second run changed={recap_changed(second)}")
    for tok in items:
        print(f"  {tok['referenceNumber']}  {tok['status']:<8} {', '.join(tok.get('requestedPermissions', []))}"
              f"  \"{tok['description']}\"")
    for path in sorted(p for p in (BUILD / "secrets").iterdir() if not p.name.endswith(".lock")):  # write locks
        print(f"  {path.relative_to(REPO)}  mode {oct(path.stat().st_mode & 0o777)}")
    if recap_changed(second) != 0:
        raise SystemExit("the second run was expected to change nothing")
    print("The emulator has stopped; the token files stay in build/demo/secrets (0600).")


if __name__ == "__main__":
    main()
