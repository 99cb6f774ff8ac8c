"""The local AWS: moto's services plus a faithful EKS access-entry emulator, CloudTrail and faults.

`python -m local serve --port PORT` serves it on 127.0.0.1; `local.server.LocalAWS` runs the same
in-process (the pytest fixture uses it).
"""
