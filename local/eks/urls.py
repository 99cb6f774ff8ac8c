"""moto's EKS routes plus access entries, access policies and updates, all served by our response class.

moto finds this module from the backend class's module (local.eks.models -> local.eks.urls). The Flask
routes only need to reach `dispatch`: the operation itself is then resolved from botocore's model on the
raw (still URL-encoded) path, so a principal ARN with slashes in a decoded path is not ambiguous.
"""

from moto.eks.urls import url_bases as moto_url_bases
from moto.eks.urls import url_paths as moto_url_paths

from .responses import EmulatedEKSResponse

url_bases = list(moto_url_bases)

_dispatch = EmulatedEKSResponse.dispatch

url_paths = {path: _dispatch for path in moto_url_paths} | {
    "{0}/clusters/(?P<name>[^/]+)/access-entries$": _dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$": _dispatch,
    "{0}/clusters/(?P<name>[^/]+)/updates$": _dispatch,
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$": _dispatch,
    "{0}/access-policies$": _dispatch,
}
