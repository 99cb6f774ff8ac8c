"""The events that wake the guard, as EventBridge patterns: defined once, used by the CDK rules, the local
pipeline and the intake handler's own checks alike.

- EKS access-entry and cluster-config calls, in the cluster's region;
- IAM principal deletions and creations, which CloudTrail files only in us-east-1 (a forwarding rule there
  sends them on to each service region's default bus);
- SSM "Parameter Store Change" under the baseline prefix: a baseline pushed, changed or deleted.

Failed calls are dropped at the rule (`errorCode` must not exist); the intake drops them again, with a log
line, for whatever reaches it some other way (a replayed event, another rule).
"""

from __future__ import annotations

import json
from typing import Any

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
SSM_DETAIL_TYPE = "Parameter Store Change"

EKS_SOURCE, IAM_SOURCE, SSM_SOURCE = "aws.eks", "aws.iam", "aws.ssm"
EKS_EVENT_SOURCE, IAM_EVENT_SOURCE = "eks.amazonaws.com", "iam.amazonaws.com"

EKS_EVENT_NAMES: tuple[str, ...] = (
    "CreateAccessEntry",
    "UpdateAccessEntry",
    "DeleteAccessEntry",
    "AssociateAccessPolicy",
    "DisassociateAccessPolicy",
    "UpdateClusterConfig",
    "CreateCluster",
    "DeleteCluster",
)
IAM_EVENT_NAMES: tuple[str, ...] = ("DeleteRole", "DeleteUser", "CreateRole", "CreateUser")
# IAM is global: CloudTrail records its calls in us-east-1, and only that region's default bus gets them.
IAM_EVENT_REGION = "us-east-1"


def _cloudtrail_pattern(source: str, event_source: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "source": [source],
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {
            "eventSource": [event_source],
            "eventName": list(names),
            "errorCode": [{"exists": False}],
        },
    }


def eks_pattern() -> dict[str, Any]:
    """EKS writes that can change who has access (rule in each service region)."""
    return _cloudtrail_pattern(EKS_SOURCE, EKS_EVENT_SOURCE, EKS_EVENT_NAMES)


def iam_pattern() -> dict[str, Any]:
    """IAM role and user deletions and creations (forwarded from us-east-1 to each service region)."""
    return _cloudtrail_pattern(IAM_SOURCE, IAM_EVENT_SOURCE, IAM_EVENT_NAMES)


# `ROOT/REGION/CLUSTER/retired`: written by `baseline delete` before the baseline goes, so the intake
# tells a deletion on purpose ("no longer managed, by WHO") from one that is not (the alarm).
RETIRED = "retired"


def baselines_root(prefix: str) -> str:
    """Where the baselines' SSM parameters live under the prefix (the store's layout starts here)."""
    return f"{prefix if prefix.endswith('/') else prefix + '/'}clusters/"


def baseline_pattern(prefix: str) -> dict[str, Any]:
    """A baseline parameter created, updated or deleted under the prefix (rule in each service region)."""
    return {
        "source": [SSM_SOURCE],
        "detail-type": [SSM_DETAIL_TYPE],
        "detail": {"name": [{"prefix": baselines_root(prefix)}]},
    }


# The service's own canary: `access-guard doctor` puts one on the default bus; the "canary" rule takes it to
# the intake queue like any event, and the intake records it in the state table, where doctor looks for it.
# It proves the whole path (rule, queue and key policies, the intake) delivers, not only that it exists.
CANARY_SOURCE = "eks-access-guard.canary"
CANARY_DETAIL_TYPE = "EKS Access Guard canary"


def canary_pattern() -> dict[str, Any]:
    return {"source": [CANARY_SOURCE], "detail-type": [CANARY_DETAIL_TYPE]}


def canary_event(canary_id: str) -> dict[str, str]:
    """The PutEvents entry of one canary."""
    return {
        "Source": CANARY_SOURCE,
        "DetailType": CANARY_DETAIL_TYPE,
        "Detail": json.dumps({"canary": canary_id}),
    }


def canary_id(event: Any) -> str | None:
    """The canary id of an EventBridge event the intake received, or None when it is not a canary."""
    if not isinstance(event, dict) or event.get("source") != CANARY_SOURCE:
        return None
    if event.get("detail-type") != CANARY_DETAIL_TYPE:
        return None
    found = (event.get("detail") or {}).get("canary") if isinstance(event.get("detail"), dict) else None
    return found if isinstance(found, str) and 0 < len(found) <= 64 and found.isalnum() else None


def patterns(prefix: str) -> dict[str, dict[str, Any]]:
    """Every rule the service region needs, by a stable name (the CDK's construct ids, the local rules)."""
    return {
        "eks": eks_pattern(),
        "iam": iam_pattern(),
        "baseline": baseline_pattern(prefix),
        "canary": canary_pattern(),
    }
