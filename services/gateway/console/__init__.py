"""The web console (控制台): static pages served by the gateway at /console/, talking only to the public API."""
