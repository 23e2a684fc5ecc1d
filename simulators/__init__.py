"""Device and household simulators, scenarios and the load generator."""
