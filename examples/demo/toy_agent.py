"""A stand-in for an AI coding agent: a prompt, a reply per message, forever."""

from __future__ import annotations

import sys


def main() -> None:
    print("toy agent ready (type a message, Enter submits)")
    while True:
        sys.stdout.write("❯ ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            return
        text = line.rstrip("\n")
        print(f"agent: received {text!r} ({len(text)} characters); working on it")


if __name__ == "__main__":
    main()
