"""Routing of /registry, /subsidy and /projects to the services, with retries and a circuit breaker."""
