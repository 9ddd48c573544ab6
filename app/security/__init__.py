"""The web service's side of access control: Litestar middleware and guards.

- `auth`: the middleware that names the caller of every request (`request.user`), the
  `principal` dependency and the scope guards;
- `sessions`: signed session cookies of local users, CSRF tokens and the login throttle;
- `audit`: one audit event per request (the records themselves: enclave/access/audit.py);
- `limits`, `bounds`, `hosts`: rate limits and security headers, request bounds, host names.

Callers, API keys and local users are domain logic shared with the command line:
enclave/access/.
"""
