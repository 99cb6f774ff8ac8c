"""AWS's limits that the design must fit: one definition each, with its source. Infra, the runtime and the
tests import them from here."""

from __future__ import annotations

# API Gateway REST: the integration timeout is 29 s by default (API Gateway quotas, "Maximum integration
# timeout"); the API must answer before it.
API_GATEWAY_TIMEOUT_SECONDS = 29.0
# Lambda: a function runs at most 15 minutes (Lambda quotas, "Function timeout").
LAMBDA_MAX_TIMEOUT_SECONDS = 900.0
