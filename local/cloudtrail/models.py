"""moto's CloudTrail backend plus LookupEvents over the events the recorder keeps.

moto finds a backend's URL map in the `urls` module beside the backend class's module, so this module's
class makes moto serve `local/cloudtrail/urls.py`, whose response class answers LookupEvents.
"""

from __future__ import annotations

from typing import Any

from moto.cloudtrail.models import CloudTrailBackend
from moto.core.base_backend import BackendDict
from moto.core.exceptions import JsonRESTError

from .lookup import LookupEventsError, lookup
from .store import STORE


class LookupEventsRefused(JsonRESTError):
    code = 400

    def __init__(self, error: LookupEventsError) -> None:
        super().__init__(error.code, error.message)


class LocalCloudTrailBackend(CloudTrailBackend):
    def lookup_events(self, params: dict[str, Any]) -> dict[str, Any]:
        """LookupEvents over this account's and region's recorded events, newest first."""
        try:
            return lookup(STORE.newest_first(self.account_id, self.region_name), params)
        except LookupEventsError as error:
            raise LookupEventsRefused(error) from None


cloudtrail_backends = BackendDict(LocalCloudTrailBackend, "cloudtrail")
