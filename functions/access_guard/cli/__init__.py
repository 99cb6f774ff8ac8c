"""`access-guard`: the operator CLI (and, with the break-glass API, the on-call CLI)."""
