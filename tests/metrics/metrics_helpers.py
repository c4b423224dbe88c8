"""Prometheus' own tools for the metrics tests: promtool, the real server, and a loopback
exporter serving a textfile-collector directory as node_exporter would."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

#: Debian's package with both: what `make setup` installs.
PACKAGE = "prometheus"


def debian_tool(name: str) -> str:
    """``name`` from Debian's prometheus package, installed with apt-get the way `make setup`
    installs tmux when it is missing and we may; else the test skips saying so."""
    found = shutil.which(name)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", PACKAGE]
        if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            subprocess.run(install, env=env, capture_output=True, timeout=600)
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"{name} is not installed and cannot be here (Debian's {PACKAGE} package: "
                "make setup installs it as root)")


def private_dir(tmp_path: Path, stem: str = "metrics") -> Path:
    """A textfile-collector directory of ours (0700: ours; others may read one, never write)."""
    where = tmp_path / f"{stem}-{uuid.uuid4().hex[:8]}"
    where.mkdir(mode=0o700)
    return where


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by (name, sorted labels), as prometheus_client reads it."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def op_counts(text: str) -> dict[tuple[str, str, str], float]:
    """``gc_provider_ops_total`` by (exe, op, exit)."""
    return {(dict(labels)["exe"], dict(labels)["op"], dict(labels)["exit"]): value
            for (name, labels), value in samples(text).items() if name == "gc_provider_ops_total"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Exporter:
    """``GET /metrics`` on 127.0.0.1: the ``*.prom`` files of one directory, concatenated
    (node_exporter's textfile collector, reduced to what the test needs)."""

    def __init__(self, directory: Path) -> None:
        where = directory

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                body = b"".join(p.read_bytes() for p in sorted(where.glob("*.prom")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Prometheus:
    """The real Prometheus server on loopback, scraping its targets (ports on 127.0.0.1)
    every second."""

    def __init__(self, binary: str, work: Path, *target_ports: int) -> None:
        self.port = free_port()
        config = work / "prometheus.yml"
        targets = ", ".join(f"'127.0.0.1:{port}'" for port in target_ports)
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: gc-providers\n"
            f"    static_configs:\n      - targets: [{targets}]\n")
        self.log = (work / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=work)
        deadline = time.monotonic() + 60
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"prometheus did not come up: {(work / 'prometheus.log').read_text()[-800:]}")
            time.sleep(0.2)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = orjson.loads(r.read())
        assert doc["status"] == "success", doc
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def total(self, expr: str) -> float:
        """The sum of what ``expr`` selects now (0 when it selects nothing)."""
        return sum(float(r["value"][1]) for r in self.query(f"sum({expr})"))

    def rises(self, expr: str, above: float, within: float = 60) -> float:
        """The sum of ``expr`` once it is above ``above`` (a scrape or two after the ops), or
        as it was when ``within`` seconds ran out."""
        deadline = time.monotonic() + within
        while True:
            got = self.total(expr)
            if got > above or time.monotonic() > deadline:
                return got
            time.sleep(0.5)

    def op_counts(self) -> dict[tuple[str, str, str], float]:
        """``gc_provider_ops_total`` by (exe, op, exit), as the query API answers now."""
        return {(r["metric"]["exe"], r["metric"]["op"], r["metric"]["exit"]): float(r["value"][1])
                for r in self.query("gc_provider_ops_total")}

    def settle(self, want: dict[tuple[str, str, str], float], within: float = 60) -> dict[tuple[str, str, str], float]:
        """The counters once they equal ``want`` (a scrape or two after the ops), or as they
        were when ``within`` seconds ran out (the caller's assertion then says how)."""
        deadline = time.monotonic() + within
        while True:
            got = self.op_counts()
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
