"""`gc-fakekube [--backend local|docker] [--port N] [--kubeconfig PATH] [--tls]`
(also `python -m protocol.conformance.fakekube`).

Prints the server URL as the first stdout line (and the kubeconfig path as
the second when asked), serves until SIGINT/SIGTERM, then removes every pod
process, container and temporary directory it made. With --tls it serves
HTTPS with a throwaway CA (the kubeconfig carries certificate-authority-data).
Every request needs the server's random bearer token, which only the kubeconfig
(mode 0600) holds: without --kubeconfig nobody can use the server (see auth.py).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from protocol.conformance.fakekube.server import FakeKube
from protocol.conformance.fakekube.tls import OpenSSLMissing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gc-fakekube",
                                     description="offline Kubernetes API server for tests")
    parser.add_argument("--backend", choices=("local", "docker"), default="local")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", help="write the kubeconfig (mode 0600) here: it holds "
                                               "the token every request needs")
    parser.add_argument("--namespace", default="default", help="kubeconfig default namespace")
    parser.add_argument("--create-namespace", action="append", default=[], metavar="NS")
    parser.add_argument("--no-namespaces", action="store_true",
                        help="local backend: plain processes even when unshare works")
    parser.add_argument("--no-build-image", action="store_true",
                        help="docker backend: do not build gc-test/agent:latest when missing")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a throwaway CA made by the openssl CLI")
    args = parser.parse_args(argv)
    if args.backend == "docker" and not args.no_build_image:
        from protocol.conformance.fakekube.image import DEFAULT_TAG, ensure_image

        ensure_image(DEFAULT_TAG)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: done.set())
    kube = FakeKube(args.backend, port=args.port,
                    use_namespaces=False if args.no_namespaces else None, tls=args.tls)
    try:
        kube.start()
    except OpenSSLMissing as e:
        kube.stop()
        print(e, file=sys.stderr)
        return 2
    try:
        for ns in args.create_namespace:
            kube.create_namespace(ns)
        print(kube.url, flush=True)
        if args.kubeconfig:
            kube.write_kubeconfig(args.kubeconfig, args.namespace)
            print(args.kubeconfig, flush=True)
        else:
            print("fakekube: no --kubeconfig: every request needs the token only a kubeconfig "
                  "holds, so no client can use this server", file=sys.stderr, flush=True)
        while not done.wait(1.0):
            pass
    finally:
        kube.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
