"""The cluster and credentials an exec needs, resolved the way kubectl resolves them.

kubectl's merge rules (KUBECONFIG lists, current-context, ``--context``) are kubectl's:
we ask it once (``kubectl config view --raw --minify -o json``) and cache the answer in a
0600 file of the 0700 runtime dir, keyed by every kubeconfig file's absolute path, its
device, inode, mtime, size and a digest of its content, the context and the kubectl binary.
Any of those changing re-resolves. The cache holds what the kubeconfig holds (inline data
included) and nothing more: certificate and key *files* stay paths, they are never inlined.

`target` turns the view into a `Target`, or raises `Fallback` for what only kubectl can do.

The helper serves many callers, so a `Target` is keyed by the whole identity of what it
means (`Target.key`): the files above, the certificate, key and plugin files the view
names (their identity too: a changed CA file is a new context), and for an exec credential
plugin the caller's whole environment and working directory, the plugin's world (one
caller's token never serves another whose plugin could answer otherwise). A caller's
relative paths mean its own working directory: `caller_env` makes them absolute before
anything is looked up.
"""

from __future__ import annotations

import os

from protocol import privdir
from protocol.proc import Timeout, run
from providers.kube.transport import rundir
from providers.kube.transport.interface import Fallback
from providers.kube.transport.target import Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from providers.kube.settings import KubeSettings

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: user fields kubectl honours that this transport does not implement.
UNSUPPORTED_USER = (("auth-provider", "auth-provider credentials"),
                    ("as", "impersonation"), ("as-groups", "impersonation"),
                    ("as-uid", "impersonation"), ("as-user-extra", "impersonation"),
                    ("username", "basic auth"), ("password", "basic auth"))


def config_files(environ: dict[str, str]) -> list[str]:
    raw = environ.get("KUBECONFIG")
    if raw:
        return [os.path.abspath(p) for p in raw.split(":") if p]
    home = environ.get("HOME")
    if not home:  # not `~`: in the helper, HOME is another caller's
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return [os.path.abspath(os.path.join(home, ".kube", "config"))]


#: Settings that name a file or directory: relative, they mean the caller's working
#: directory (`caller_env`). GC_KUBECTL without a ``/`` is looked up on PATH (from there).
PATH_SETTINGS = ("KUBECONFIG", "GC_K8S_AUDIT_LOG", "GC_METRICS_DIR", "GC_KUBECTL", "HOME",
                 "KUBECACHEDIR", "GC_K8S_SERVICEACCOUNT_DIR", "GC_K8S_RUNTIME_DIR", "XDG_RUNTIME_DIR",
                 "GC_EXEC_STATE_DIR")
#: Never read more of a file than this to know who it is (kubeconfigs, certificates).
MAX_IDENTITY_BYTES = 4 << 20


def absolute(value: str, cwd: str) -> str:
    return value if value.startswith("/") else os.path.normpath(os.path.join(cwd, value))


def caller_env(environ: dict[str, str], cwd: str) -> dict[str, str]:
    """A caller's environment with every path setting absolute against its working
    directory ``cwd``; `Fallback` when that directory is unknown (an exec plugin, a PATH
    lookup would run from it)."""
    if not cwd.startswith("/"):
        raise Fallback("the caller's working directory is unknown")
    env = dict(environ)
    for name in PATH_SETTINGS:
        value = env.get(name)
        if not value or (name == "GC_KUBECTL" and "/" not in value):
            continue
        parts = value.split(":") if name == "KUBECONFIG" else [value]
        env[name] = ":".join(absolute(p, cwd) if p else p for p in parts)
    return env


def caller_kubectl(kubectl: str, cwd: str) -> str:
    """The kubectl a caller named, absolute when it is a relative path (a bare name is
    looked up on the caller's PATH, from its working directory)."""
    return kubectl if "/" not in kubectl else absolute(kubectl, cwd)


def digest(data: bytes) -> str:
    from hashlib import blake2b

    return blake2b(data, digest_size=16).hexdigest()


def file_identity(name: str, *, content: bool = True) -> str:
    """Who ``name`` is now: device, inode, mtime, size and (``content``) a digest of what
    it holds. A symlink is followed: what it points at is what kubectl reads."""
    import stat as st_

    try:
        st = os.stat(name)
    except OSError:
        return f"{name}|-"
    if not st_.S_ISREG(st.st_mode):
        if st_.S_ISDIR(st.st_mode):
            return f"{name}|dir|{st.st_dev}|{st.st_ino}"
        raise Fallback(f"{name} is not a regular file")
    stamp = f"{name}|{st.st_dev}|{st.st_ino}|{st.st_mtime_ns}|{st.st_size}"
    if not content:
        return stamp
    if st.st_size > MAX_IDENTITY_BYTES:
        raise Fallback(f"{name} is larger than {MAX_IDENTITY_BYTES} bytes")
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_IDENTITY_BYTES + 1)
    except OSError:
        return f"{stamp}|unreadable"
    return f"{stamp}|{digest(data)}"


def cache_key(files: list[str], settings: KubeSettings, env: dict[str, str] | None = None) -> str:
    """The identity of a kubeconfig resolution: every file (content included), the
    context, and the kubectl that resolves it (a bare name: with the PATH it is found on)."""
    parts = [file_identity(name) for name in files]
    kubectl = settings.kubectl
    if "/" in kubectl:
        kubectl = file_identity(kubectl, content=False)
    else:
        kubectl += "|PATH=" + ((env or os.environ).get("PATH") or "")
    return "\n".join([*parts, f"context={settings.context}", f"kubectl={kubectl}"])


def deps_identity(t: Target, env: dict[str, str]) -> str:
    """The identity of the files a view names (CA, client certificate and key, an exec
    plugin given by path) and, with no CA of its own, the caller's trust store
    (SSL_CERT_FILE, SSL_CERT_DIR): a change to any makes a new target."""
    names = [t.ca_file, t.cert_file, t.key_file]
    if t.exec_spec is not None and "/" in str(t.exec_spec.get("command") or ""):
        names.append(str(t.exec_spec["command"]))
    parts = [file_identity(name) for name in names if name]
    if t.secure and not (t.insecure or t.ca_data or t.ca_file):
        for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            value = env.get(var) or ""
            parts.append(f"{var}={value}")
            parts += [file_identity(p, content=False) for p in value.split(":") if p]
    return "\n".join(parts)


def env_digest(env: dict[str, str], cwd: str | None) -> str:
    """The world an exec credential plugin sees: every variable, and where it runs."""
    blob = "\0".join(f"{k}={v}" for k, v in sorted(env.items()))
    return digest(f"{cwd or os.getcwd()}\0\0{blob}".encode("utf-8", "surrogateescape"))


_memo: dict[str, Target] = {}
#: Targets of an exec credential plugin, one per caller identity (bounded: dropped whole).
_callers: dict[str, Target] = {}
MAX_CALLERS = 512


def target(settings: KubeSettings, environ: dict[str, str] | None = None,
           cwd: str | None = None) -> Target:
    """The resolved `Target` for these settings (memoized per process and identity).

    ``environ`` and ``cwd``: the caller's (the helper's client); its path settings are
    absolute already (`caller_env`). None: this process's."""
    env = dict(os.environ) if environ is None else environ
    files = config_files(env)
    if not any(os.path.exists(f) for f in files):
        if env.get("KUBERNETES_SERVICE_HOST") and "KUBECONFIG" not in env:
            sa = env.get("GC_K8S_SERVICEACCOUNT_DIR") or SA_DIR
            memo_key = (f"in-cluster|{env.get('KUBERNETES_SERVICE_HOST')}|"
                        f"{env.get('KUBERNETES_SERVICE_PORT')}|{os.path.abspath(sa)}")
            found = _memo.get(memo_key)
            if found is None or deps_identity(found, env) != found.deps:
                found = remember(memo_key, in_cluster(env), env, cwd)
            return found
        raise Fallback("no kubeconfig file")
    key = cache_key(files, settings, env)
    found = _memo.get(key)
    if found is None or deps_identity(found, env) != found.deps:
        view = cached_view(key, settings, env, files, cwd)
        base = os.path.dirname(files[0]) if len(files) == 1 else ""
        found = remember(key, from_view(view, key, base), env, cwd)
    if found.exec_spec is not None:  # its token is the plugin's answer to this caller
        caller_key = found.key + "\nenv=" + env_digest(env, cwd)
        mine = _callers.get(caller_key)
        if mine is None:
            if len(_callers) >= MAX_CALLERS:
                _callers.clear()
            mine = _callers[caller_key] = found.for_caller(caller_key, env, cwd)
        found = mine
    check_proxy(found, env)
    return found


def remember(key: str, t: Target, env: dict[str, str], cwd: str | None) -> Target:
    """Keep ``t`` under ``key`` with the identity of the files it names in its own key.

    Its TLS context is built here, from what those files hold now, and the identity read
    once more: a file changed meanwhile is refused (`Fallback`), never kept under a key
    that names other content."""
    t.env, t.cwd = env, cwd
    t.deps = deps_identity(t, env)
    t.key = key + "\n" + t.deps
    if t.secure:
        from providers.kube.transport import tls

        tls.context(t)
        if deps_identity(t, env) != t.deps:
            raise Fallback("a certificate file changed while it was read")
    if len(_memo) >= MAX_CALLERS:
        _memo.clear()
    _memo[key] = t
    return t


def cached_view(key: str, settings: KubeSettings, env: dict[str, str], files: list[str],
                cwd: str | None = None) -> dict[str, Any]:
    import binascii
    import json

    where = rundir.ensure(env)
    name = os.path.join(where, f"kubeconfig-{binascii.crc32(key.encode()):08x}.json")
    # A crc names the file; the full key inside decides whether it still applies.
    try:
        with os.fdopen(privdir.open_file(name, os.O_RDONLY, what="kubeconfig cache"), "rb") as f:
            stored = json.loads(f.read())
        if isinstance(stored, dict) and stored.get("key") == key and isinstance(stored.get("view"), dict):
            view: dict[str, Any] = stored["view"]
            return view
    except (OSError, ValueError):
        pass
    argv = [settings.kubectl, "config", "view", "--raw", "--minify", "-o", "json"]
    if settings.context:
        argv.append(f"--context={settings.context}")
    from protocol import metrics

    metrics.count(metrics.KUBECTL_SPAWNS)
    try:
        result = run(argv, env=env, cwd=cwd, timeout=30, new_group=True)
    except (OSError, Timeout) as error:  # never a signal's Interrupted: that must unwind
        raise Fallback(f"kubectl config view: {error}") from None
    if not result.ok:
        raise Fallback(f"kubectl config view: {result.error_text()[:200]}")
    try:
        view = json.loads(result.out)
    except ValueError:
        raise Fallback("kubectl config view printed no JSON") from None
    if not isinstance(view, dict):
        raise Fallback("kubectl config view printed no object")
    if cache_key(files, settings, env) != key:  # what kubectl read may not be what we keyed
        raise Fallback("the kubeconfig changed while it was resolved")
    try:
        rundir.write_private(name, json.dumps({"key": key, "view": view}).encode())
    except OSError:
        pass  # a cache: the next call resolves the kubeconfig again
    return view


def first(view: dict[str, Any], section: str, field: str) -> dict[str, Any]:
    items = view.get(section) or []
    if not items or not isinstance(items[0], dict):
        return {}
    value = items[0].get(field) or {}
    return value if isinstance(value, dict) else {}


def split_server(server: str, key: str) -> Target:
    scheme, sep, rest = server.partition("://")
    if not sep or scheme not in ("https", "http"):
        raise Fallback(f"server URL {server!r} is not http(s)")
    hostport, slash, path = rest.partition("/")
    if hostport.startswith("["):  # [v6]:port
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    secure = scheme == "https"
    if port_text and not port_text.isdigit():
        raise Fallback(f"server URL {server!r} has a bad port")
    t = Target(host=host, port=int(port_text) if port_text else (443 if secure else 80),
               secure=secure, key=key)
    t.path_prefix = ("/" + path).rstrip("/") if slash else ""
    return t


def resolve_path(value: str, base: str, what: str) -> str:
    if not value or os.path.isabs(value):
        return value
    if not base:
        raise Fallback(f"relative {what} path in a merged KUBECONFIG list")
    return os.path.join(base, value)


def from_view(view: dict[str, Any], key: str, base: str) -> Target:
    import binascii

    cluster = first(view, "clusters", "cluster")
    user = first(view, "users", "user")
    server = cluster.get("server") or ""
    if not server:
        raise Fallback("kubeconfig has no server")
    if cluster.get("proxy-url"):
        raise Fallback("proxy-url in the kubeconfig")
    for field, reason in UNSUPPORTED_USER:
        if user.get(field):
            raise Fallback(reason)
    t = split_server(server, key)
    t.server_name = cluster.get("tls-server-name") or t.host
    t.insecure = bool(cluster.get("insecure-skip-tls-verify"))
    try:
        if cluster.get("certificate-authority-data"):
            t.ca_data = binascii.a2b_base64(cluster["certificate-authority-data"]).decode()
        if user.get("client-certificate-data"):
            t.cert_data = binascii.a2b_base64(user["client-certificate-data"])
        if user.get("client-key-data"):
            t.key_data = binascii.a2b_base64(user["client-key-data"])
    except (binascii.Error, UnicodeDecodeError):
        raise Fallback("undecodable base64 data in the kubeconfig") from None
    t.ca_file = resolve_path(cluster.get("certificate-authority") or "", base, "certificate-authority")
    t.cert_file = resolve_path(user.get("client-certificate") or "", base, "client-certificate")
    t.key_file = resolve_path(user.get("client-key") or "", base, "client-key")
    t.token = user.get("token") or ""
    t.token_file = resolve_path(user.get("tokenFile") or "", base, "tokenFile")
    spec = user.get("exec")
    if isinstance(spec, dict) and spec.get("command"):
        if spec.get("interactiveMode") == "Always":
            raise Fallback("interactive exec credential plugin")
        command = spec["command"]
        if "/" in command and not os.path.isabs(command):
            command = resolve_path(command, base, "exec command")
        t.exec_spec = {**spec, "command": command, "_cluster": cluster}
    if bool(t.cert_data or t.cert_file) != bool(t.key_data or t.key_file):
        raise Fallback("client certificate without its key (or key without certificate)")
    return t


def in_cluster(env: dict[str, str]) -> Target:
    """The pod's service account, as kubectl uses it when no kubeconfig exists."""
    sa = env.get("GC_K8S_SERVICEACCOUNT_DIR") or SA_DIR
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT") or "443"
    if not os.path.exists(os.path.join(sa, "token")):
        raise Fallback("in-cluster: no service account token")
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    t = split_server(f"https://{hostport}", f"in-cluster|{host}|{port}|{sa}")
    t.token_file = os.path.join(sa, "token")
    t.ca_file = os.path.join(sa, "ca.crt")
    return t


def check_proxy(t: Target, env: dict[str, str]) -> None:
    """Go's rule: a proxy applies unless the host is loopback or NO_PROXY matches it."""
    names = ("HTTPS_PROXY", "https_proxy") if t.secure else ("HTTP_PROXY", "http_proxy")
    proxy = next((env[n] for n in names if env.get(n)), "")
    if proxy and proxy_applies(t.host, t.port, env.get("NO_PROXY") or env.get("no_proxy") or ""):
        raise Fallback("a proxy applies (HTTPS_PROXY/NO_PROXY)")


def proxy_applies(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower()
    if host == "localhost" or host.startswith("127.") or host == "::1":
        return False
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return False
        if "/" in entry:
            if in_cidr(host, entry):
                return False
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip("*")
        if host == name.lstrip(".") or (name.startswith(".") and host.endswith(name)) or \
                host.endswith("." + name):
            return False
    return True


def in_cidr(host: str, cidr: str) -> bool:
    net, _, bits = cidr.partition("/")

    def v4(text: str) -> int | None:
        parts = text.split(".")
        if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
            return None
        return int.from_bytes(bytes(int(p) for p in parts), "big")

    a, b = v4(host), v4(net)
    if a is None or b is None or not bits.isdigit() or int(bits) > 32:
        return False
    mask = ((1 << 32) - 1) ^ ((1 << (32 - int(bits))) - 1)
    return (a & mask) == (b & mask)
