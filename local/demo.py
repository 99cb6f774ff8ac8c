"""`make demo`: the classic EKS lockout and its recovery, told against the local AWS in a few lines.

1. Alice creates a cluster the way the API, SDKs and CloudFormation default to: CONFIG_MAP mode, where her
   admin access is invisible (no aws-auth mapping, no access entry).
2. The platform team records the access it wants in a baseline (SSM Parameter Store).
3. Alice leaves and her IAM user is deleted: nobody can administer the cluster any more.
4. `access-guard apply` shows the drift as a plan, moves the cluster to API_AND_CONFIG_MAP and creates the
   baseline's entries (the recovery AWS documents); the emulator's access oracle then proves that the
   platform role really can get in again, and `access-guard plan` finds nothing left to do.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from .client import Emulator
from .server import LocalAWS

CLUSTER = "payments"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PLATFORM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform/platform-admins"
ONCALL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/oncall-readers"

BASELINE = f"""\
# An eksctl ClusterConfig is a valid baseline; accessGuard holds Guard's own settings.
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: {CLUSTER}
  region: {REGION}
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  accessEntries:
    - principalARN: {PLATFORM_ROLE}
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy
          accessScope: {{type: cluster}}
    - principalARN: {ONCALL_ROLE}
      kubernetesGroups: [oncall]
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope: {{type: namespace, namespaces: [payments, "payments-*"]}}
accessGuard:
  mode: enforce
  prune: true
"""


def say(step: str, text: str = "") -> None:
    print(f"\n\033[1m{step}\033[0m" if sys.stdout.isatty() else f"\n{step}")
    if text:
        print(textwrap.indent(text.rstrip(), "  "))


def who_can_administer(emulator: Emulator) -> str:
    access = emulator.access(CLUSTER, region=REGION)
    admins = [f"{p['principalArn']} (via {p['source']})" for p in access["principals"] if p["clusterAdmin"]]
    mode = access["authenticationMode"]
    return f"mode {mode}; cluster admins: " + (", ".join(admins) if admins else "NOBODY - locked out")


@contextmanager
def local_aws() -> Iterator[str]:
    server = LocalAWS(port=0)
    endpoint = server.start()
    # Only the local AWS, with dummy credentials: never the user's profiles, keys or SSO sessions.
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    try:
        yield endpoint
    finally:
        server.stop()
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[key]
        os.environ.update(saved)


def run_cli(*args: str) -> int:
    from access_guard.cli.main import main as access_guard

    print(f"  $ access-guard {' '.join(args)}")
    sys.stdout.flush()
    return access_guard(["--region", REGION, "--no-color", *args])


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with local_aws() as endpoint:
        emulator = Emulator(endpoint)
        emulator.set_eks_settings(mode_update_seconds=1.0)
        iam = boto3.client("iam", region_name=REGION)
        trust = '{"Version":"2012-10-17","Statement":[]}'
        iam.create_role(RoleName="platform-admins", Path="/platform/", AssumeRolePolicyDocument=trust)
        iam.create_role(RoleName="oncall-readers", AssumeRolePolicyDocument=trust)
        iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=trust)
        iam.create_user(UserName="alice")
        key = iam.create_access_key(UserName="alice")["AccessKey"]

        say(f"Local AWS on {endpoint} (moto + the EKS access-entry emulator). No AWS account involved.")

        alice = boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            region_name=REGION,
        )
        alice.client("eks").create_cluster(
            name=CLUSTER,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        )
        say(
            "1. Alice creates the cluster with the API's defaults (CONFIG_MAP).", who_can_administer(emulator)
        )

        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{CLUSTER}-baseline.yaml")
        with open(path, "w") as handle:
            handle.write(BASELINE)
        say("2. The platform team stores the access it wants as a baseline in SSM.")
        run_cli("baseline", "push", path)

        iam.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName="alice")
        say("3. Alice leaves; her IAM user is deleted.", who_can_administer(emulator))

        say("4. Access Guard shows the drift from the baseline and restores it.")
        applied = run_cli("apply", "--cluster", CLUSTER, "--yes", "--poll-seconds", "0.2")
        say("5. Who can get in now, by the emulator's access oracle:", who_can_administer(emulator))
        again = run_cli("plan", "--cluster", CLUSTER)
        admins = emulator.admins(CLUSTER, region=REGION)
        ok = applied == 0 and again == 0 and PLATFORM_ROLE in admins
        say("Recovered." if ok else "The demo did not end as expected: see above.")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
