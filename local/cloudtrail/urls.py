"""URL map moto serves for CloudTrail once `LocalCloudTrailBackend` is installed (see models.py)."""

from .responses import LocalCloudTrailResponse

response = LocalCloudTrailResponse()

url_bases = [
    r"https?://cloudtrail\.(.+)\.amazonaws\.com",
]

url_paths = {"{0}/$": response.dispatch}
