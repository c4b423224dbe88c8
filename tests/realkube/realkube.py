"""A real control plane on loopback for tests: etcd + kube-apiserver (+ optional
kube-controller-manager) + node-agent, built from this directory's Go module by
.ci/build-realkube.

    python3 tests/realkube/realkube.py up --bin DIR [--dir DIR]   # start, print env, stay up until Ctrl-C

As a library (e.g. a pytest fixture):

    with RealKube(workdir) as rk:
        subprocess.run(["kubectl", "--kubeconfig", rk.admin_kubeconfig, "get", "ns"])

Everything listens on 127.0.0.1 on free ports; all state lives under the
work dir (certs, etcd data, pod dirs, logs). stdlib only; needs `openssl`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_NAME = "gc-local-node"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


class Certs:
    """A throwaway CA and every certificate the test bed needs (EC P-256; RSA for SA tokens)."""

    def __init__(self, d: Path) -> None:
        self.d = d
        d.mkdir(parents=True, exist_ok=True)

    def p(self, name: str) -> str:
        return str(self.d / name)

    def _key(self, name: str) -> None:
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", self.p(name + ".key")])

    def ca(self) -> None:
        self._key("ca")
        run(["openssl", "req", "-x509", "-new", "-key", self.p("ca.key"), "-subj", "/CN=realkube-ca",
             "-days", "3650", "-out", self.p("ca.crt"),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])

    def issue(self, name: str, subj: str, *, server_sans: list[str] | None = None) -> None:
        self._key(name)
        ext = self.d / (name + ".ext")
        lines = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment"]
        if server_sans:
            lines += ["extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join(server_sans)]
        else:
            lines += ["extendedKeyUsage=clientAuth"]
        ext.write_text("\n".join(lines) + "\n")
        csr = self.d / (name + ".csr")
        run(["openssl", "req", "-new", "-key", self.p(name + ".key"), "-subj", subj, "-out", str(csr)])
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", self.p("ca.crt"), "-CAkey", self.p("ca.key"),
             "-CAcreateserial", "-days", "365", "-extfile", str(ext), "-out", self.p(name + ".crt")])
        csr.unlink()
        ext.unlink()

    def make_all(self) -> None:
        self.ca()
        self.issue("apiserver", "/CN=kube-apiserver", server_sans=[
            "IP:127.0.0.1", "IP:10.0.0.1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local"])
        self.issue("admin", "/O=system:masters/CN=realkube-admin")
        self.issue("apiserver-kubelet-client", "/CN=kube-apiserver-kubelet-client")
        self.issue("node", f"/O=system:nodes/CN=system:node:{NODE_NAME}")
        self.issue("scheduler", "/CN=system:kube-scheduler")
        self.issue("controller-manager", "/CN=system:kube-controller-manager")
        self.issue("kubelet", f"/CN={NODE_NAME}", server_sans=["IP:127.0.0.1", f"DNS:{NODE_NAME}"])
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.p("sa.key")])
        run(["openssl", "pkey", "-in", self.p("sa.key"), "-pubout", "-out", self.p("sa.pub")])


def kubeconfig(path: Path, server: str, ca: str, *, cert: str | None = None, key: str | None = None,
               token: str | None = None, user: str = "user", namespace: str | None = None) -> None:
    """Kubeconfig as JSON (valid YAML) with file references."""
    u: dict[str, str | None] = {}
    if cert:
        u = {"client-certificate": cert, "client-key": key}
    if token:
        u = {"token": token}
    ctx: dict[str, str] = {"cluster": "realkube", "user": user}
    if namespace:
        ctx["namespace"] = namespace
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "realkube",
        "clusters": [{"name": "realkube", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": user, "user": u}],
        "contexts": [{"name": "realkube", "context": ctx}],
    }
    path.write_text(json.dumps(cfg, indent=1) + "\n")
    path.chmod(0o600)


def process_alive(pid: int) -> bool:
    """Whether pid is still a process (a zombie is not: it holds nothing but its entry)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


class RealKube:
    def __init__(self, workdir: str | os.PathLike[str] | None = None, *,
                 bindir: str | os.PathLike[str] | None = None,
                 controller_manager: bool | None = None, node_agent: bool = True,
                 agent_namespaces: str = "auto", verbosity: int = 1) -> None:
        self.owned_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="realkube-")).resolve()
        self.bin = Path(bindir or os.environ.get("REALKUBE_BIN") or HERE / "bin")
        if controller_manager is None:
            controller_manager = (self.bin / "kube-controller-manager").exists()
        self.with_kcm = controller_manager
        self.with_agent = node_agent
        self.agent_namespaces = agent_namespaces
        self.v = verbosity
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.agent_port = 0
        self.timings: dict[str, float] = {}
        #: The pod processes stop() had to kill itself (the agent left them running).
        self.leftovers: list[int] = []
        self.logs = self.dir / "logs"
        self.certs = Certs(self.dir / "pki")
        self.server = ""
        self.admin_kubeconfig = str(self.dir / "admin.kubeconfig")

    # -- processes ---------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        log.close()
        self.procs.append((name, p))
        (self.dir / f"{name}.pid").write_text(f"{p.pid}\n")
        return p

    def _wait_file(self, path: Path, proc: subprocess.Popen[bytes], name: str, timeout: float) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if path.exists() and path.read_text().strip():
                return path.read_text().strip()
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{name} exited ({proc.returncode}): {tail}")
            time.sleep(0.1)
        raise TimeoutError(f"{name} not ready after {timeout}s; see {self.logs / (name + '.log')}")

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.certs.p("ca.crt"))
        ctx.load_cert_chain(self.certs.p("admin.crt"), self.certs.p("admin.key"))
        return ctx

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.server + path, context=self._ssl(), timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def start(self) -> RealKube:
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.certs.make_all()
        c = self.certs.p
        t_certs = time.monotonic() - t0

        # etcd: picks its own free port, reports it in a file.
        etcd_addr = self.dir / "etcd.addr"
        etcd_addr.unlink(missing_ok=True)
        p = self._spawn("etcd", [str(self.bin / "etcd"), "--data-dir", str(self.dir / "etcd"),
                                 "--addr-file", str(etcd_addr)])
        etcd_url = self._wait_file(etcd_addr, p, "etcd", 60)

        # kube-apiserver: --secure-port=0 means "off", so pick a free port (retry on a lost race).
        for attempt in range(3):
            port = free_port()
            self.server = f"https://127.0.0.1:{port}"
            p = self._spawn("kube-apiserver", [
                str(self.bin / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1", f"--secure-port={port}", "--advertise-address=127.0.0.1",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                f"--tls-cert-file={c('apiserver.crt')}", f"--tls-private-key-file={c('apiserver.key')}",
                f"--client-ca-file={c('ca.crt')}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",  # PodSecurity is on by default
                f"--service-account-issuer={SA_ISSUER}",
                f"--service-account-key-file={c('sa.pub')}",
                f"--service-account-signing-key-file={c('sa.key')}",
                "--service-cluster-ip-range=10.0.0.0/24",
                # EndpointSlices may not hold loopback addresses: don't reconcile the
                # "kubernetes" service endpoints to 127.0.0.1.
                "--endpoint-reconciler-type=none",
                f"--kubelet-client-certificate={c('apiserver-kubelet-client.crt')}",
                f"--kubelet-client-key={c('apiserver-kubelet-client.key')}",
                f"--kubelet-certificate-authority={c('ca.crt')}",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=true",
                "--profiling=false",
                f"--v={self.v}",
            ])
            try:
                self._wait_ready(p, 120)
                break
            except RuntimeError:
                if attempt == 2 or "address already in use" not in (self.logs / "kube-apiserver.log").read_text():
                    raise
                self.procs.pop()
        t_api = time.monotonic() - t0
        kubeconfig(Path(self.admin_kubeconfig), self.server, c("ca.crt"), cert=c("admin.crt"), key=c("admin.key"),
                   user="realkube-admin")
        for who in ("node", "scheduler", "controller-manager"):
            kubeconfig(self.dir / f"{who}.kubeconfig", self.server, c("ca.crt"),
                       cert=c(f"{who}.crt"), key=c(f"{who}.key"), user=who)

        if self.with_kcm:
            self._spawn("kube-controller-manager", [
                str(self.bin / "kube-controller-manager"),
                f"--kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
                f"--authentication-kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
                f"--authorization-kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
                "--bind-address=127.0.0.1", "--secure-port=0",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--root-ca-file={c('ca.crt')}",
                f"--service-account-private-key-file={c('sa.key')}",
                f"--v={self.v}",
            ])
            self._wait_kcm(self.procs[-1][1], 60)

        if self.with_agent:
            port_file = self.dir / "agent.port"
            port_file.unlink(missing_ok=True)
            p = self._spawn("node-agent", [
                str(self.bin / "node-agent"),
                f"--node-name={NODE_NAME}",
                f"--kubeconfig={self.dir / 'node.kubeconfig'}",
                f"--scheduler-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
                f"--tls-cert-file={c('kubelet.crt')}", f"--tls-private-key-file={c('kubelet.key')}",
                f"--client-ca-file={c('ca.crt')}", f"--cluster-ca-file={c('ca.crt')}",
                f"--root-dir={self.dir / 'agent'}", f"--namespaces={self.agent_namespaces}",
                f"--port-file={port_file}", f"--v={max(self.v, 2)}",
            ])
            self.agent_port = int(self._wait_file(port_file, p, "node-agent", 60))
        self.timings = {"certs_s": round(t_certs, 2), "apiserver_ready_s": round(t_api, 2),
                        "all_s": round(time.monotonic() - t0, 2)}
        (self.dir / "env").write_text(f"export KUBECONFIG={self.admin_kubeconfig}\n")
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        end = time.monotonic() + timeout
        last = ""
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"kube-apiserver exited ({proc.returncode}); see {self.logs / 'kube-apiserver.log'}")
            try:
                code, body = self.get("/readyz", timeout=2)
                if code == 200:
                    return
                last = body
            except (OSError, ssl.SSLError) as e:
                last = str(e)
            time.sleep(0.2)
        raise TimeoutError(f"kube-apiserver not ready after {timeout}s: {last[-500:]}")

    def _wait_kcm(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """The controller-manager is working once the 'default' namespace has its 'default' SA."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"kube-controller-manager exited ({proc.returncode}); "
                                   f"see {self.logs / 'kube-controller-manager.log'}")
            if self.get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200:
                return
            time.sleep(0.2)
        raise TimeoutError(f"kube-controller-manager: no default ServiceAccount after {timeout}s")

    def ensure_default_sa(self, namespace: str) -> None:
        """Without kube-controller-manager nobody creates the 'default' ServiceAccount,
        and the ServiceAccount admission plugin rejects pods without one."""
        r = subprocess.run(["kubectl", "--kubeconfig", self.admin_kubeconfig, "-n", namespace,
                            "create", "serviceaccount", "default"], capture_output=True, text=True)
        if r.returncode and "AlreadyExists" not in r.stderr:
            raise RuntimeError(r.stderr)

    def pod_processes(self) -> list[int]:
        """Every live process of the node agent's pods: a pod's processes run in sessions of
        their own, out of reach of the agent's process group. They are found by name: the
        pod's `unshare` and `pod-init` carry its dir (under this bed's dir) on their command
        line (a pod's other processes live in pod-init's PID namespace and die with it);
        without namespaces, every process of a pod carries its marker (GC_LOCAL_POD=uid)."""
        pods = self.dir / "agent" / "pods"
        mine = str(pods).encode() + b"/"
        markers = {b"GC_LOCAL_POD=" + uid.encode() for uid in (os.listdir(pods) if pods.is_dir() else [])}
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = set(f.read().split(b"\0"))
            except OSError:
                continue  # gone, or not ours to read (then not the bed's: it runs as us)
            if any(a.startswith(mine) for a in argv) or env & markers:
                found.append(int(entry))
        return found

    def reap_pods(self, timeout: float = 20) -> list[int]:
        """SIGKILL whatever of the pods outlived the agent and wait until it is gone; returns
        the pids it had to kill (none when the agent tore its pods down itself)."""
        killed = self.pod_processes()
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.monotonic() + timeout
        while (left := [pid for pid in killed if process_alive(pid)]) and time.monotonic() < end:
            time.sleep(0.05)
        if left:
            raise RuntimeError(f"pod processes {left} survive SIGKILL")
        return killed

    def stop(self) -> None:
        # Reverse order: agent first (it kills its pods), apiserver, etcd last.
        try:
            for _name, p in reversed(self.procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
                        p.wait()
            self.procs.clear()
            # No pod outlives its bed, whatever became of the agent (SIGKILLed above,
            # crashed, or shut down while a pod's sandbox was being built).
            self.leftovers = self.reap_pods()
        finally:
            if self.owned_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RealKube:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["up"])
    ap.add_argument("--dir", help="work dir (default: a new temp dir, removed at exit)")
    ap.add_argument("--bin", help="dir with etcd, kube-apiserver, node-agent (default: ./bin)")
    ap.add_argument("--no-agent", action="store_true")
    ap.add_argument("--kcm", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--namespaces", default="auto", help="node-agent pod namespaces: auto/true/false")
    a = ap.parse_args()
    kcm = {"auto": None, "yes": True, "no": False}[a.kcm]
    rk = RealKube(a.dir, bindir=a.bin, controller_manager=kcm, node_agent=not a.no_agent,
                  agent_namespaces=a.namespaces)
    with rk:
        print(json.dumps({"dir": str(rk.dir), "server": rk.server, "kubeconfig": rk.admin_kubeconfig,
                          "controller_manager": rk.with_kcm, **rk.timings}), flush=True)
        print(f"up; export KUBECONFIG={rk.admin_kubeconfig}; Ctrl-C to stop", flush=True)
        stop: list[int] = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        try:
            while not stop:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
