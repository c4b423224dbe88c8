"""Build a small agent image from this host's binaries with `docker import`.

No registry and no pulls: the rootfs holds tmux, sh/bash, coreutils, procps
(ps/pgrep), tar, base64 and friends with their shared libraries, the C.UTF-8
locale (tmux refuses to start without a UTF-8 locale), terminfo and
/etc/passwd. About 15 MB, built in well under a second.

    python -m protocol.conformance.fakekube.image [--tag gc-test/agent:latest] [--force]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

DEFAULT_TAG = "gc-test/agent:latest"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BINARIES = (
    "tmux", "bash", "sh", "dash", "sleep", "cat", "ls", "env", "ps", "id", "hostname", "tar",
    "pgrep", "pkill", "kill", "mkdir", "rm", "rmdir", "cp", "mv", "ln", "base64", "find",
    "grep", "sed", "head", "tail", "wc", "sort", "uniq", "cut", "tr", "test", "touch", "chmod",
    "chown", "readlink", "realpath", "dirname", "basename", "printf", "echo", "true", "false",
    "uname", "date", "stty", "tput", "clear", "timeout", "mktemp", "tee", "xargs", "awk",
    "gzip", "nohup", "sync", "stat", "du", "df", "md5sum", "sha256sum", "seq", "yes", "whoami",
    "pwd", "expr", "od", "useradd", "su",
)
TERMINFO = ("x/xterm", "x/xterm-256color", "s/screen", "s/screen-256color", "t/tmux",
            "t/tmux-256color", "v/vt100", "l/linux", "d/dumb")
_LDD_PATH = re.compile(r"(/\S+)")


def _copy(path: str, root: str) -> None:
    """Copy `path` into the rootfs at the same place, keeping symlinks as symlinks."""
    dest = os.path.join(root, path.lstrip("/"))
    if os.path.lexists(dest):
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.islink(path):
        target = os.readlink(path)
        os.symlink(target, dest)
        _copy(os.path.normpath(os.path.join(os.path.dirname(path), target)), root)
    elif os.path.isdir(path):
        shutil.copytree(path, dest, symlinks=True)
    else:
        shutil.copy2(path, dest)


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    return [m.group(1) for line in out.splitlines() if (m := _LDD_PATH.search(line))]


def build_rootfs(root: str, extra_binaries: tuple[str, ...] = ()) -> None:
    # Merged /usr like the host (Debian 12): /bin -> usr/bin etc.
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + link):
            os.symlink(os.readlink("/" + link), os.path.join(root, link))
    for name in (*BINARIES, *extra_binaries):
        found = shutil.which(name, path=DEFAULT_PATH)
        if not found:
            continue
        real = os.path.realpath(found)
        _copy(found if found.startswith("/usr/") else real, root)
        _copy(real, root)
        for lib in _libraries(real):
            _copy(lib, root)
    for locale in ("/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"):
        if os.path.isdir(locale):
            _copy(locale, root)
    for base in ("/lib/terminfo", "/usr/share/terminfo"):
        for entry in TERMINFO:
            if os.path.exists(os.path.join(base, entry)):
                _copy(os.path.join(base, entry), root)
    etc = os.path.join(root, "etc")
    os.makedirs(etc, exist_ok=True)
    files = {
        "passwd": "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": "root:x:0:\nnogroup:x:65534:\n",
        "shadow": "root:*:19000:0:99999:7:::\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        "hosts": "127.0.0.1 localhost\n",
    }
    for name, text in files.items():
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
    for d, mode in (("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700), ("workspace", 0o755),
                    ("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("run", 0o755), ("home", 0o755)):
        os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, d), mode)


def image_exists(tag: str) -> bool:
    r = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return r.returncode == 0


def build_image(tag: str = DEFAULT_TAG, extra_binaries: tuple[str, ...] = ()) -> str:
    """Build and `docker import` the image; returns the tag."""
    with tempfile.TemporaryDirectory(prefix="fakekube-image-") as tmp:
        root = os.path.join(tmp, "rootfs")
        build_rootfs(root, extra_binaries)
        tar_path = os.path.join(tmp, "rootfs.tar")
        with tarfile.open(tar_path, "w") as tar:
            for entry in sorted(os.listdir(root)):
                tar.add(os.path.join(root, entry), arcname=entry)
        r = subprocess.run(
            ["docker", "import",
             "-c", "ENV LANG=C.UTF-8", "-c", f"ENV PATH={DEFAULT_PATH}", "-c", "ENV HOME=/root",
             "-c", "WORKDIR /", "-c", 'CMD ["sleep", "infinity"]', tar_path, tag],
            capture_output=True, text=True, check=False,
        )
        if r.returncode != 0:
            raise RuntimeError(f"docker import failed: {r.stderr.strip()}")
    return tag


def ensure_image(tag: str = DEFAULT_TAG) -> str:
    if not image_exists(tag):
        build_image(tag)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocol.conformance.fakekube.image",
                                     description="build the test agent image from host binaries")
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    parser.add_argument("--with", dest="extra", action="append", default=[], metavar="BINARY",
                        help="also copy this host binary (and its libraries)")
    args = parser.parse_args(argv)
    if args.force or not image_exists(args.tag):
        build_image(args.tag, tuple(args.extra))
    print(args.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
