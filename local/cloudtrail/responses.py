"""moto's CloudTrail responses plus LookupEvents."""

from __future__ import annotations

import json
from typing import Any

from moto.cloudtrail.responses import CloudTrailResponse

from .models import LocalCloudTrailBackend, cloudtrail_backends


class LocalCloudTrailResponse(CloudTrailResponse):
    @property
    def cloudtrail_backend(self) -> LocalCloudTrailBackend:
        return cloudtrail_backends[self.current_account][self.region]

    def lookup_events(self) -> tuple[int, dict[str, str], str]:
        try:
            params = json.loads(self.body) if self.body else {}
        except ValueError:
            params = {}
        answer = self.cloudtrail_backend.lookup_events(params if isinstance(params, dict) else {})
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answer, default=_epoch)


def _epoch(value: Any) -> float:
    # The JSON protocol carries timestamps as epoch seconds.
    return value.timestamp()
