"""Errors the platform raises on purpose, each meant to reach a person as one clear line.

    NuanxinError                 base: the CLI prints its message and exits non-zero
    ├── ConfigError              a NUANXIN_* variable is missing or invalid (names the variable)
    ├── DatabaseUnavailable      PostgreSQL is unreachable (names the server, never the password)
    └── MigrationError           the schema cannot be brought up to date
        ├── MigrationEdited      an applied migration file changed since it was applied
        └── UnknownMigration     the database holds a migration this code does not ship

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
