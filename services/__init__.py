"""The platform's services: registry, subsidy, projects and the gateway."""
