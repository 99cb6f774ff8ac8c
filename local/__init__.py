"""The local AWS: moto's services plus a faithful EKS access-entry emulator, CloudTrail and faults.

`python -m local serve --port PORT` serves it on 127.0.0.1; `local.server.LocalAWS` runs the same
in-process (the pytest fixture uses it).

Two halves live here (an import-linter contract in pyproject.toml keeps the first apart):

- **The emulator**, the judge of the product, which imports nothing of it: `server`, `serving`, `calls`,
  `control` and `client` (its control API), `eks` (access entries and the access oracle), `cloudtrail`,
  `ssm_events`, `event_rules`, `public_parameters`, `identity`, `operations`, `faults`, and `runtime` (Lambda,
  SQS event sources, API Gateway and the scheduler, as AWS runs them).
- **What hosts the product on it**: `runner` (the pipeline's resources and functions, as the CDK makes them),
  `breakglass_api`, `deployed` (what a deployed account has beyond the stack, for `access-guard doctor`),
  `demo`, and `__main__` (`serve`, `demo`).
"""
