"""Who last wrote each SSM parameter, as Parameter Store records it (`LastModifiedUser`).

On AWS, DescribeParameters and GetParameterHistory give each parameter version's `LastModifiedUser`: the ARN
of the identity that wrote it (an IAM user, or an assumed-role session). moto answers "N/A". This listener
records the caller of every successful PutParameter on the version it made, and DescribeParameters and
GetParameterHistory answer with it, so the guard can name who wrote a baseline it refuses.

Importing this module installs the listener.
"""

from __future__ import annotations

import json
from typing import Any

from moto.ssm.models import Parameter, ssm_backends

from .calls import Call, add_listener

_ATTRIBUTE = "_local_last_modified_user"
_original = Parameter.describe_response_object


def _describe_response_object(self: Parameter, *args: Any, **kwargs: Any) -> dict[str, Any]:
    response = _original(self, *args, **kwargs)
    writer = getattr(self, _ATTRIBUTE, None)
    if writer:
        response["LastModifiedUser"] = writer
    return response


def _listener(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
    if call.operation.service != "ssm" or call.operation.name != "PutParameter" or status >= 400:
        return
    try:
        name = json.loads(call.body or b"{}").get("Name")
        version = json.loads(body or b"{}").get("Version")
    except ValueError:
        return
    if not isinstance(name, str):
        return
    backend = ssm_backends[call.caller.account_id][call.region]
    for parameter in backend._parameters.get(name, []):  # the version this call made
        if parameter.version == version:
            setattr(parameter, _ATTRIBUTE, call.caller.arn)


Parameter.describe_response_object = _describe_response_object  # type: ignore[method-assign]
add_listener(_listener)
