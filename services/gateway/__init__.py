"""The public entry: identity, OAuth2 tokens, JWKS, routing, rate limits, merged OpenAPI."""
