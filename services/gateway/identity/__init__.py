"""Identity: people, clients, signing keys and refresh tokens; the OAuth2 token endpoint."""
