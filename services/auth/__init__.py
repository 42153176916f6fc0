"""The auth service: users, passwords (argon2id), RS256 access tokens, JWKS, API keys."""
