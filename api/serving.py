"""How every nuanxin process serves the API with uvicorn: the one place its options live.

- `proxy_headers=False`: uvicorn would otherwise take the client address from
  `X-Forwarded-For` whenever the peer is 127.0.0.1 (or `FORWARDED_ALLOW_IPS`), so anything
  on the host — or a proxy nobody declared — could pick the address the sign-in limit
  counts. `api.proxies` does it instead, only for `NUANXIN_TRUSTED_PROXIES`.
- `log_config=None`: uvicorn's records go through the process's one redacting handler
  (core.logging) and it installs none of its own.
"""

from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration for `app`; `options` (host, port, …) are uvicorn's own."""
    return uvicorn.Config(app, **{**options, "proxy_headers": False, "log_config": None})


def serve(config: uvicorn.Config) -> None:
    """Run a server from `server_config`: in this process, or in `config.workers`
    processes sharing one socket (then `app` must be an import string), as uvicorn.run
    does, so the options above hold for every worker."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
