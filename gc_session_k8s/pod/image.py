"""`check-image`: validate the image reference on the controller.

Whether an image can be pulled is only known to the cluster's nodes (their
registry credentials, their network), so pulling here would prove nothing.
What the controller can check is the reference itself: a malformed one would
leave every pod in InvalidImageName. A well-formed reference passes (exit 0);
a malformed one fails (exit 1) and gc aborts `gc start` with the reason.
"""

from __future__ import annotations

import re

from protocol.errors import ProviderError

# The distribution reference grammar: [host[:port]/]path[:tag][@digest], where the
# first component is a host only if it has a '.' or ':' or is "localhost".
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
HOST = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?$")
PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


def valid(image: str) -> bool:
    if not image or len(image) > 255:
        return False
    rest, _, digest = image.partition("@")
    if digest and not DIGEST.match(digest):
        return False
    first, slash, tail = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if not HOST.match(first):
            return False
        rest = tail
    path, colon, tag = rest.rpartition(":") if ":" in rest.rsplit("/", 1)[-1] else (rest, "", "")
    if colon and not TAG.match(tag):
        return False
    return bool(PATH.match(path))


def check_reference(image: str) -> None:
    if not valid(image):
        raise ProviderError(f"invalid image reference {image!r}")
