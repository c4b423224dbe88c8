"""Who may talk to the fake API server: whoever holds its kubeconfig.

Each server makes a random bearer token when it is built (`secrets.token_urlsafe`) and
writes it only into the kubeconfigs it is asked for (mode 0600, see `write_private`).
Every request, over HTTP or HTTPS, REST, watch, exec/attach upgrades and the `/_fake`
control endpoints alike, must carry `Authorization: Bearer <token>` (or, over plain HTTP,
the token as the first path segment: see `path_prefix`); anything else gets the real API
server's 401 Status and nothing runs. The tokens are compared with `hmac.compare_digest`.

Like a kube-apiserver with anonymous auth on (its default, and RBAC's
`system:public-info-viewer`), `/healthz`, `/livez` and `/readyz` answer a request that
carries no credentials at all; a request with a wrong token is refused there too, as a
real server refuses it before anonymous access is considered. `/version` and discovery
need the token (as on a server started with `--anonymous-auth=false`): nothing a local
stranger learns from the server is worth a hole.

There is no switch to turn the check off: no test needs one (a test that pins what a
client sends registers its token with `FakeKube.accept_token`), and without the check any
local user who finds the port could create pods and exec into them as the server's user.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable, Sequence

#: Answered without credentials (but never with wrong ones).
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; "" for another scheme or a
    malformed header, None when there is no header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def _matches(given: str, tokens: Iterable[str]) -> bool:
    ok = False
    for t in tokens:  # every one compared: the time taken says nothing about which matched
        ok |= hmac.compare_digest(given.encode(), t.encode())
    return ok


def check(header: str | None, target: str, tokens: Sequence[str]) -> str | None:
    """The request target with its credential prefix taken off when the request may go on;
    None when it must be refused with 401.

    A credential is a valid `Authorization: Bearer` header or a first path segment that is
    a token (the plain-HTTP kubeconfig's server URL, see `path_prefix`); every credential
    given must be valid, and at least one is needed except for OPEN_PATHS."""
    path_part, sep, query = target.partition("?")
    first, _, rest = path_part[1:].partition("/")
    by_path = path_part.startswith("/") and bool(first) and _matches(first, tokens)
    if by_path:
        target = "/" + rest + (sep + query if sep else "")
    token = bearer(header)
    if token is not None:
        return target if _matches(token, tokens) else None
    if by_path or target.partition("?")[0].rstrip("/") in OPEN_PATHS:
        return target
    return None


def path_prefix(token: str) -> str:
    """What a plain-HTTP kubeconfig appends to the server URL.

    client-go (kubectl) reads a kubeconfig's user credentials only when the server is
    https (clientcmd: "only try to read the auth information if we are secure"): over
    plain HTTP kubectl 1.32 and 1.37 send no Authorization header at all, whatever the
    kubeconfig says. So the plain-HTTP kubeconfig carries the token twice: as the user's
    bearer token (the Python client and gc-session-k8s send it) and as the first path
    segment of the server URL (every client puts it in front of each request path). The
    server takes either and strips the segment before routing."""
    return "/" + token


def write_private(path: str, text: str) -> str:
    """Write `text` to `path`, readable by this user only (0600).

    The parent directory is made 0700 when missing. The bytes go to a new file created
    with O_CREAT|O_EXCL|O_NOFOLLOW (never through a planted file or symlink), mode 0600
    from the start, which is then renamed over `path` (a symlink at `path` is replaced,
    not followed)."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            fd = -1
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
