"""Who may do what, and the record of what they did: callers (`principal`), API keys
(`keys`), local users (`users`) and the audit trail (`audit`).

Plain domain logic over the database, shared by the web service (app/security holds only
its Litestar middleware and guards) and the command line (`enclave keys|users|audit`).
"""
