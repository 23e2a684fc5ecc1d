"""Real servers for the test suite: throwaway PostgreSQL databases, the WebAssembly
TimescaleDB server, and a way to run the `nuanxin` CLI as a separate process."""
