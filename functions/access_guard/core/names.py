"""Names AWS gives things, as the product checks them: one definition, used by the baseline and the events.

Pure. Each check takes any object and says whether it is a well-formed name (a non-string is not).
"""

from __future__ import annotations

import re

# EKS cluster names: 1-100 characters, a letter or digit first, then letters, digits, hyphens, underscores.
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def is_cluster_name(value: object) -> bool:
    return isinstance(value, str) and CLUSTER_NAME.fullmatch(value) is not None


MAX_REGION_CHARS = 25  # the longest today is 14 (ap-southeast-5, us-isob-east-1)


def is_region(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_REGION_CHARS and REGION.fullmatch(value) is not None
