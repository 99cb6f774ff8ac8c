"""The gate's re-read of an entry created since the read: one call when it holds policies, the full read when
it holds none or is not STANDARD (the type then decides), absent when it is gone."""

from __future__ import annotations

import boto3
from access_guard.adapters.eks_reader import EksReader

from local.client import Emulator

from .scenario import ADMIN, REGION, CallCounter, create_cluster, role

CLUSTER = "payments"


def test_an_entry_created_since_the_read_is_re_read_policies_first(aws: Emulator) -> None:
    create_cluster(CLUSTER, mode="API_AND_CONFIG_MAP", bootstrap=False)
    admin, viewer, node = role("admin"), role("viewer"), role("node")
    eks = boto3.client("eks", region_name=REGION)
    reader = EksReader(eks=eks, iam=boto3.client("iam", region_name=REGION))
    live = reader.read(CLUSTER, REGION, only=[admin, viewer, node])
    assert live.entries == {}
    # given, since the read: an admin entry with its policy, a bare STANDARD entry, a node entry
    eks.create_access_entry(clusterName=CLUSTER, principalArn=admin)
    eks.associate_access_policy(
        clusterName=CLUSTER, principalArn=admin, policyArn=ADMIN, accessScope={"type": "cluster"}
    )
    eks.create_access_entry(clusterName=CLUSTER, principalArn=viewer, kubernetesGroups=["viewers"])
    eks.create_access_entry(clusterName=CLUSTER, principalArn=node, type="EC2_LINUX")
    counter = CallCounter(eks)
    # when the gate re-reads them
    fresh = reader.reread(live, [admin])
    assert dict(counter.calls) == {"ListAssociatedAccessPolicies": 1}
    entry = fresh.entries[admin]
    assert entry.type == "STANDARD" and entry.principal_status == "ok"
    assert [p.policy_arn for p in entry.policies] == [ADMIN]
    fresh = reader.reread(live, [viewer, node])
    # then an entry without policies is described: its type and groups are what EKS says
    assert fresh.entries[viewer].kubernetes_groups == ("viewers",)
    assert fresh.entries[node].type == "EC2_LINUX"
    # and one deleted again is absent
    eks.delete_access_entry(clusterName=CLUSTER, principalArn=admin)
    assert admin not in reader.reread(live, [admin]).entries
