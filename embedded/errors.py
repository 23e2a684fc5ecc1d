"""Errors of the embedded servers, each one line saying why and what to do.

    EmbeddedServerError          base: a server nuanxin starts for itself cannot run
    ├── UnreachableDirectory     the servers' account cannot reach a directory (names the
    │                            directory that blocks it; nuanxin never loosens it)
    ├── EmbeddedPostgresError    the wheel is missing, or PostgreSQL did not start
    └── EmbeddedBrokerError      Mosquitto is missing, or did not start

They are `RuntimeError`s too, as the broker's start-up errors always were.
"""

from core.errors import NuanxinError


class EmbeddedServerError(NuanxinError, RuntimeError):
    """Raised when an embedded server cannot be prepared or started."""


class UnreachableDirectory(EmbeddedServerError):
    """Raised, before anything is created, when the account cannot reach a directory."""


class EmbeddedPostgresError(EmbeddedServerError):
    """Raised when the wheel is missing or its server cannot be started."""


class EmbeddedBrokerError(EmbeddedServerError):
    """Raised when Mosquitto is missing or does not start."""
