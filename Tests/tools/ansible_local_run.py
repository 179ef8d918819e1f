#!/usr/bin/env python3
"""Deploy two Postern nodes with ansible/site.yml into a scratch directory, over a local connection.

usage: ansible_local_run.py WORKDIR BINARY DATABASE_URL [--relay-host HOST:PORT]

Writes WORKDIR/inventory.yml (hosts mx1 and mx2, each with its own postern_root WORKDIR/mx1,
WORKDIR/mx2, loopback ports, no user and no systemd), then checks the playbooks' syntax, runs
ansible-lint, runs site.yml twice (the second run must change nothing on either host) and checks both
rendered configurations with `postern config check`. The database must be reachable: the play runs
`postern migrate` against it. Last line on success, JSON:
  {"mx1": {"config": PATH, "smtp_port": N, "api_port": N}, "mx2": {...}}
Exit status 1, with the failing command's output, on any failure.
"""

import argparse
import grp
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "ansible"
HOSTS = ("mx1", "mx2")
DOMAIN = "relay.test"
SELECTOR = "s1"
SRS_SECRETS = ["ansible-test-srs-newest", "ansible-test-srs-older"]


class Failure(Exception):
    pass


def free_ports(count):
    """Ports the kernel hands out for port 0, all held open until every one is known."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run(argv, env, cwd=None, what=None):
    """Runs a command; on a non-zero exit raises Failure carrying its whole output."""
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise Failure(f"{what or argv[0]} failed (exit {result.returncode}): {' '.join(map(str, argv))}\n"
                      f"{result.stdout}")
    return result.stdout


def dkim_key(workdir, env):
    """An Ed25519 key in PKCS#8 PEM, made once per WORKDIR so later runs keep the same files."""
    path = workdir / f"dkim-{DOMAIN}.pem"
    if not path.exists():
        run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)], env, what="openssl genpkey")
        path.chmod(0o600)
    return path.read_text()


def snapshot_binary(binary, workdir):
    """A copy of BINARY that stays put while the run lasts (a rebuild between the two plays would
    otherwise show up as a change)."""
    target = workdir / "postern.bin"
    stat = binary.stat()
    if not target.exists() or target.stat().st_size != stat.st_size or target.stat().st_mtime != stat.st_mtime:
        shutil.copy2(binary, target)
    return target


def database_endpoint(url):
    """host and port of a TCP database URL, for the role's reachability check; None for a socket."""
    parts = urllib.parse.urlsplit(url)
    if "socket=" in parts.query or not parts.hostname:
        return None
    return parts.hostname, parts.port or 3306


def recap(output):
    """host -> counters of the last PLAY RECAP in ansible-playbook's output."""
    section = output.rsplit("PLAY RECAP", 1)
    if len(section) != 2:
        return {}
    counts = {}
    for line in section[1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if match:
            counts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("binary", type=Path)
    parser.add_argument("database_url")
    parser.add_argument("--relay-host", help="delivery.relay_host for both nodes (HOST:PORT)")
    args = parser.parse_args()

    workdir = args.workdir.resolve()
    binary = args.binary.resolve()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise Failure(f"{binary}: not an executable file")
    workdir.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    # POSTERN_* variables would override keys of the configurations being checked.
    for name in [n for n in env if n.startswith("POSTERN_")]:
        del env[name]
    temp = workdir / ".ansible"
    env.update({
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_HOME": str(temp / "home"),
        "ANSIBLE_LOCAL_TEMP": str(temp / "local-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(temp / "remote-tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    })

    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    key = dkim_key(workdir, env)
    installed = snapshot_binary(binary, workdir)
    ports = free_ports(2 * len(HOSTS))

    common = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "postern_manage_user": False,
        "postern_manage_service": False,
        "postern_owner": user,
        "postern_group": group,
        "postern_install_owner": user,
        "postern_install_group": group,
        "postern_binary_src": str(installed),
        "postern_database_url": args.database_url,
        "postern_hostname": f"mx.{DOMAIN}",
        "postern_domains_root": DOMAIN,
        "postern_domains_shared": [DOMAIN],
        "postern_srs_domain": DOMAIN,
        "postern_srs_secrets": SRS_SECRETS,
        "postern_dkim_selector": SELECTOR,
        "postern_dkim_keys": {DOMAIN: key},
        "postern_cluster_heartbeat_interval": "500ms",
        "postern_cluster_lease_timeout": "2s",
        "postern_cluster_auto_failover": True,
    }
    if args.relay_host:
        common["postern_relay_host"] = args.relay_host
    endpoint = database_endpoint(args.database_url)
    if endpoint:
        common["postern_database_host"], common["postern_database_port"] = endpoint

    hosts, summary = {}, {}
    for index, name in enumerate(HOSTS):
        smtp_port, api_port = ports[2 * index], ports[2 * index + 1]
        root = workdir / name
        root.mkdir(exist_ok=True)
        hosts[name] = {
            "postern_root": str(root),
            "postern_node_name": name,
            "postern_smtp_listen": f"127.0.0.1:{smtp_port}",
            "postern_api_listen": f"127.0.0.1:{api_port}",
            "postern_api_public_url": f"http://127.0.0.1:{api_port}",
        }
        summary[name] = {"config": str(root / "etc/postern/postern.yaml"), "smtp_port": smtp_port,
                         "api_port": api_port}
    inventory = workdir / "inventory.yml"
    # JSON is YAML: the yaml inventory plugin reads it as it is.
    inventory.write_text(json.dumps({"all": {"children": {"postern": {"hosts": hosts, "vars": common}}}}, indent=2))
    inventory.chmod(0o600)

    playbook = ["ansible-playbook", "-i", str(inventory)]
    run(playbook + ["--syntax-check", "site.yml", "failover.yml"], env, cwd=ANSIBLE_DIR, what="syntax check")
    run(["ansible-lint"], env, cwd=ANSIBLE_DIR, what="ansible-lint")

    for attempt in ("first", "second"):
        output = run(playbook + ["site.yml"], env, cwd=ANSIBLE_DIR, what=f"site.yml ({attempt} run)")
        counts = recap(output)
        for name in HOSTS:
            host = counts.get(name)
            if host is None:
                raise Failure(f"site.yml ({attempt} run): no PLAY RECAP line for {name}\n{output}")
            if host.get("failed", 0) or host.get("unreachable", 0):
                raise Failure(f"site.yml ({attempt} run): {name} failed or was unreachable\n{output}")
            if attempt == "second" and host.get("changed", 0) != 0:
                raise Failure(f"site.yml is not idempotent: the second run changed {host['changed']} "
                              f"thing(s) on {name}\n{output}")

    for name in HOSTS:
        run([str(Path(hosts[name]["postern_root"]) / "usr/local/bin/postern"), "config", "check",
             "--config", summary[name]["config"]], env, what=f"postern config check ({name})")

    print(json.dumps(summary))


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"ansible_local_run: {failure}", file=sys.stderr)
        sys.exit(1)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"ansible_local_run: {error}", file=sys.stderr)
        sys.exit(1)
