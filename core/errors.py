"""Errors the platform raises on purpose, each meant to reach a person as one clear line.

    NuanxinError                 base: the CLI prints its message and exits non-zero
    ├── ConfigError              a NUANXIN_* variable is missing or invalid (names the variable)
    ├── DatabaseUnavailable      PostgreSQL is unreachable (names the server, never the password)
    ├── MigrationError           the schema cannot be brought up to date
    │   ├── MigrationEdited      an applied migration file changed since it was applied
    │   └── UnknownMigration     the database holds a migration this code does not ship
    └── DomainError              a request the domain refuses; the API maps each to a status
        ├── NotFound             no such thing, or not visible to this user (404)
        ├── PermissionDenied     the user's role may not do this (403)
        ├── Conflict             it already exists, or its state does not allow this (409)
        ├── InvalidRequest       well-formed but meaningless, e.g. an unknown community (422)
        └── ServiceUnavailable   a dependency (the broker) did not answer (503)

Foreign errors (psycopg, pydantic) are translated into these at the boundary that meets them.
"""


class NuanxinError(Exception):
    """Base of every deliberate error; `str(error)` is the message shown to people."""

    exit_code = 1


class ConfigError(NuanxinError):
    """Raised when settings are loaded and a NUANXIN_* variable is missing or invalid."""

    exit_code = 2


class DatabaseUnavailable(NuanxinError):
    """Raised when a connection to PostgreSQL cannot be opened."""


class MigrationError(NuanxinError):
    """Raised when migrations cannot be applied."""


class MigrationEdited(MigrationError):
    """Raised before applying anything when an applied file's checksum no longer matches."""


class UnknownMigration(MigrationError):
    """Raised when the database records a migration version that has no file here."""


class DomainError(NuanxinError):
    """Base of the refusals that service functions raise for API and CLI alike."""


class NotFound(DomainError):
    """Raised when a thing does not exist or lies outside the user's districts or elders."""


class PermissionDenied(DomainError):
    """Raised when the user's role does not allow the action at all."""


class Conflict(DomainError):
    """Raised on a duplicate (device_id, username, …) or a state that forbids the change."""


class InvalidRequest(DomainError):
    """Raised when a request refers to something that makes it meaningless. `field` names
    the body field at fault: its name, or its place in a nested body
    (`("levels", 0, "targets", 1, "contact_id")`)."""

    def __init__(self, message: str, field: str | tuple[str | int, ...] | None = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def location(self) -> tuple[str | int, ...]:
        """Where in the body the fault is, as a validation error's `loc` after "body"."""
        if self.field is None:
            return ()
        return (self.field,) if isinstance(self.field, str) else self.field


class ServiceUnavailable(DomainError):
    """Raised when a required outside service, such as the MQTT broker, cannot be reached."""
