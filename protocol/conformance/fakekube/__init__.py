"""An offline Kubernetes API server for tests (stdlib + orjson only).

`FakeKube` serves discovery, pods/secrets/configmaps/namespaces CRUD and
watch, and WebSocket exec to the real kubectl (1.32, 1.37) and the
`kubernetes` Python client; its pods really run, as local processes
(`local` backend, in their own namespaces when possible) or as Docker
containers (`docker` backend). See `protocol.conformance.fakekube.fixtures` for pytest.
"""

from __future__ import annotations

from protocol.conformance.fakekube.server import FakeKube, make_backend

__all__ = ["FakeKube", "make_backend"]
