"""The resident helper as gc-session-k8s starts it: ``python -m gc_session_k8s.helper serve``.

The shared helper (`providers.kube.transport.helper`), handed this executable's answerer:
the reads `gc_session_k8s.hot` hands over whole are answered by `gc_session_k8s.answer`.
"""

from __future__ import annotations

import sys

from gc_session_k8s import answer
from gc_session_k8s.hot import ANSWERER
from providers.kube.transport import helper

if __name__ == "__main__":
    sys.exit(helper.main(sys.argv[1:], {ANSWERER: answer.serve}))
