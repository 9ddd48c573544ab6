"""Who is calling, and what they may see and do.

- `principal`: the caller (`Principal`: an API key, a person behind the SSO proxy, or the
  anonymous local user when ENCLAVE_AUTH=off), its groups and scopes, and how its groups
  narrow a search;
- `keys`: API keys, stored as scrypt hashes, verified per request;
- `users`, `sessions`: local users who sign in on /login (scrypt-hashed passwords), their
  signed session cookies, CSRF tokens and the login throttle;
- `auth`: the middleware that names the caller of every request (`request.user`), the
  `principal` dependency and the scope guards.
"""

from app.security.auth import AUTH_MIDDLEWARE, provide_principal, requires
from app.security.principal import ANONYMOUS, Principal

__all__ = ["ANONYMOUS", "AUTH_MIDDLEWARE", "Principal", "provide_principal", "requires"]
