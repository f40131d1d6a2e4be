"""Users, namespaces, memberships, tokens, passwords and login JWTs."""
