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

# The distribution reference grammar, simplified: [host[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
REFERENCE = re.compile(
    rf"^{_HOST}{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{{32,}})?$"
)


def check_reference(image: str) -> None:
    if len(image) > 255 or not REFERENCE.match(image):
        raise ProviderError(f"invalid image reference {image!r}")
