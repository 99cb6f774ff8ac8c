"""`make demo`: EKS Access Guard at work, unattended, against the local AWS (no AWS account).

The local AWS runs in this process with the guard's event pipeline on top (the same Lambda handlers as in
AWS, local/runner.py). People act as they would, with their own credentials, through the `aws` CLI and
`access-guard`; the guard hears of each change through CloudTrail and EventBridge and answers on its own. The
emulator's access oracle says, before and after each step, who can really administer the cluster.

1. Alice creates the cluster with the API's defaults (CONFIG_MAP); she leaves, her IAM user is deleted:
   nobody can administer it.
2. The platform team stores the baseline: the guard moves the cluster to API_AND_CONFIG_MAP and creates the
   baseline's entries.
3. Bob grants himself cluster admin; someone disassociates the on-call viewers' policy; someone deletes the
   platform admins' entry by mistake. Each is put back, and the owners are told who did what.
4. A timeline of the whole story.
5. At 3 a.m. an event is lost (CloudTrail's delivery is best effort) and nobody can administer the cluster.
   The on-call engineer, through the signed break-glass API, restores it, then takes 15 minutes of cluster
   admin, which end on their own (the services' clock is moved ahead: nobody waits 15 minutes here).
6. The platform admins sign in through IAM Identity Center: the baseline names their permission set, which
   Identity Center re-provisions (its role is re-made with a new suffix); the guard moves the entry to the
   new role within seconds (`identity_center`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from .client import Emulator
from .server import LocalAWS

CLUSTER = "payments"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PLATFORM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform/platform-admins"
ONCALL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/oncall-viewers"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
DELIVERY_DELAY = 0.5  # CloudTrail -> EventBridge takes seconds on AWS; shorter here
WAIT = 30.0

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
        - policyARN: {ADMIN}
          accessScope: {{type: cluster}}
    - principalARN: {ONCALL_ROLE}
      kubernetesGroups: [oncall]
      accessPolicies:
        - policyARN: {VIEW}
          accessScope: {{type: namespace, namespaces: [payments, "payments-*"]}}
accessGuard:
  mode: enforce
  prune: true
"""


def say(step: str, text: str = "") -> None:
    print(f"\n\033[1m{step}\033[0m" if sys.stdout.isatty() else f"\n{step}", flush=True)
    if text:
        print(textwrap.indent(text.rstrip(), "  "), flush=True)


@dataclass
class Story:
    endpoint: str
    emulator: Emulator
    pipeline: Any
    started: float
    timeline: list[tuple[str, str, float, str]]
    bob: dict[str, str]

    def who_can_administer(self) -> str:
        access = self.emulator.access(CLUSTER, region=REGION)
        admins = [
            f"{p['principalArn']} (via {p['source']})" for p in access["principals"] if p["clusterAdmin"]
        ]
        return f"mode {access['authenticationMode']}; cluster admins: " + (
            ", ".join(admins) if admins else "NOBODY - locked out"
        )

    def env(self, key: dict[str, str] | None = None) -> dict[str, str]:
        """A terminal of its own for a person: the local endpoint and their own keys."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_ACCESS_KEY_ID=(key or {}).get("AccessKeyId", "platform-team"),
            AWS_SECRET_ACCESS_KEY=(key or {}).get("SecretAccessKey", "platform-team"),
        )
        if key and key.get("SessionToken"):
            env["AWS_SESSION_TOKEN"] = key["SessionToken"]
        return env

    def shell(
        self, *argv: str, key: dict[str, str] | None = None, show: str | None = None, **extra: str
    ) -> int:
        """Run a command as a person would in their terminal (with `extra` exported), and show it."""
        print(f"  $ {show or shlex.join(argv)}", flush=True)
        env = {**self.env(key), **extra}
        done = subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False)
        for line in (done.stdout + done.stderr).strip().splitlines():
            print(f"    {line}", flush=True)
        return done.returncode

    def aws(self, key: dict[str, str], *args: str) -> int:
        return self.shell(sys.executable, "-m", "awscli", *args, key=key, show=shlex.join(["aws", *args]))

    def aws_at_once(self, key: dict[str, str], *calls: tuple[str, dict[str, Any]]) -> None:
        """Several EKS calls made back to back (a script would make them so), shown as the aws CLI's:
        they land within milliseconds, before the guard hears of the first."""
        eks = boto3.client(
            "eks",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        for operation, params in calls:
            flags = [f"--{k.replace('_', '-')}" for k in params]
            words = ["aws", "eks", operation.replace("_", "-")]
            for flag, value in zip(flags, params.values(), strict=True):
                words += [flag, value if isinstance(value, str) else "type=cluster"]
            print(f"  $ {shlex.join(words)}", flush=True)
        for operation, params in calls:
            getattr(eks, operation)(**_api_params(params))

    def guard_answer(self, what: str, since: float) -> None:
        """Wait for the guard's notes about a change (its run done: the pipeline quiet), show each, and add
        them to the timeline."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            notes = self.pipeline.notifications(wait_seconds=1.0)
            if not notes:
                continue
            self.pipeline.wait_quiet()  # a change note may come before the run that applies it ends
            notes += self.pipeline.notifications(wait_seconds=0.5)
            lines: list[str] = []
            for note in notes:
                document = note["document"]
                after = time.monotonic() - since
                outcome = document.get("outcome") or {}
                done = [d["action"]["description"] for d in outcome.get("done", [])]
                if outcome:  # a run's note (a baseline change's own note comes before its run)
                    self.timeline.append(
                        (what, document.get("trigger", {}).get("reason", ""), after, "; ".join(done))
                    )
                lines.append(f"[{after:4.1f} s later] {note['subject']}")
                lines += [f"  {line}" for line in document["text"].splitlines()[2:] if line.strip()]
            say("  The guard, on its own:", "\n".join(lines))
            return
        say("  (no answer from the guard in time)")


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


class ShiftedClock:
    """Real time plus an offset: the break-glass services' clock, moved ahead so 15 minutes pass at once."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def break_glass(story: Story, emulator: Emulator, iam: Any) -> bool:
    """The on-call engineer's night: restore, a temporary grant, its end. True when it ended as it should."""
    oncall = iam.create_role(
        RoleName="AWSReservedSSO_OnCall_0a1b2c3d4e5f6a7b",
        Path="/aws-reserved/sso.amazonaws.com/eu-west-1/",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]
    clock = ShiftedClock()
    api = story.pipeline.serve_api(oncall_principals=[oncall], clock=clock, tick_seconds=None)
    carol = boto3.client("sts", region_name=REGION).assume_role(RoleArn=oncall, RoleSessionName="carol")[
        "Credentials"
    ]
    key = {
        "AccessKeyId": carol["AccessKeyId"],
        "SecretAccessKey": carol["SecretAccessKey"],
        "SessionToken": carol["SessionToken"],
    }

    def breakglass(*args: str) -> int:
        return story.shell(
            sys.executable, "-m", "access_guard", "breakglass", *args,
            key=key, show=shlex.join(["access-guard", "breakglass", *args]), ACCESS_GUARD_API_URL=api,
        )  # fmt: skip

    say(
        "7. 3 a.m.: an event never arrives (CloudTrail's delivery is best effort), and the platform admins' "
        "entry is gone."
    )
    emulator.set_cloudtrail_delivery(drop_next=1)
    story.aws(
        story.bob, "eks", "delete-access-entry", "--cluster-name", CLUSTER, "--principal-arn", PLATFORM_ROLE
    )
    story.pipeline.wait_quiet()
    say("   Who can get in:", story.who_can_administer())
    say(
        f"   Carol is on call (role {oncall}, session carol). Through the signed break-glass API "
        f"(export ACCESS_GUARD_API_URL={api}):"
    )
    breakglass("drift", "--cluster", CLUSTER)
    breakglass("restore", "--cluster", CLUSTER, "--reason", "INC-7: platform admins locked out")
    say("   Who can get in now:", story.who_can_administer())
    breakglass(
        "grant", "--cluster", CLUSTER, "--policy", "AmazonEKSClusterAdminPolicy", "--minutes", "15",
        "--reason", "INC-7: look for what else was changed",
    )  # fmt: skip
    granted = oncall in emulator.admins(CLUSTER, region=REGION)
    say("   Who can get in now:", story.who_can_administer())
    breakglass("grants", "--cluster", CLUSTER)
    clock.offset += timedelta(minutes=16)
    story.pipeline.scheduler.tick()
    say(
        "   16 minutes later (the services' clock, moved ahead), the grant's schedule fires:",
        story.who_can_administer(),
    )
    story.pipeline.wait_quiet()
    breakglass("audit", "--cluster", CLUSTER)
    notes = story.pipeline.notifications(wait_seconds=2)
    subjects = "\n".join(f"- {n['subject']}" for n in notes)
    say(
        f"   The owners were told of each change (the reads, drift, grants and audit, are recorded, not "
        f"told): {len(notes)} notes",
        subjects,
    )
    return granted and oncall not in emulator.admins(CLUSTER, region=REGION)


def identity_center(story: Story) -> bool:
    """The platform admins' IAM Identity Center permission set, re-provisioned: the guard follows its role.
    True when the entry moved to the new role and the old role's entry is gone."""
    say(
        "8. The platform admins sign in through IAM Identity Center: the baseline names their permission "
        "set (Identity Center makes its role AWSReservedSSO_PlatformAdmins_<16 hex>: unpredictable suffix)."
    )
    old = story.emulator.provision_permission_set("PlatformAdmins", region="eu-west-1")["created"]
    text = BASELINE + (
        "  identityCenter:\n"
        "    - permissionSet: PlatformAdmins\n"
        "      accessPolicies:\n"
        f"        - policyARN: {ADMIN}\n"
        "          accessScope: {type: cluster}\n"
    )
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{CLUSTER}-baseline-identity-center.yaml")
    with open(path, "w") as handle:
        handle.write(text)
    since = time.monotonic()
    push = ("-m", "access_guard", "baseline", "push", path)
    story.shell(sys.executable, *push, show=f"access-guard baseline push {path}")
    _identity_center_answer(story, since, old)
    say("   Who can get in now:", story.who_can_administer())
    say(
        "   Identity Center re-provisions the permission set: it deletes the role and makes a new one with a "
        "new suffix (DeleteRole, CreateRole: CloudTrail records them, forwarded from us-east-1)."
    )
    since = time.monotonic()
    new = story.emulator.provision_permission_set("PlatformAdmins", region="eu-west-1")["created"]
    print(f"    {old}\n -> {new}", flush=True)
    say("   Who can get in right after:", story.who_can_administer())
    _identity_center_answer(story, since, f"PlatformAdmins moved from {old} to {new}")
    say("   Who can get in now:", story.who_can_administer())
    admins = story.emulator.admins(CLUSTER, region=REGION)
    eks = boto3.client("eks", region_name=REGION)
    entries = eks.list_access_entries(clusterName=CLUSTER)["accessEntries"]
    return new in admins and old not in entries


def _identity_center_answer(story: Story, since: float, wanted: str) -> None:
    """Wait for the guard's note that mentions `wanted`, and show what it did."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for note in story.pipeline.notifications(wait_seconds=0.2):
            text = note["document"]["text"]
            if wanted in text:
                lines = [line for line in text.splitlines()[2:] if line.strip()]
                say(
                    f"  The guard [{time.monotonic() - since:4.1f} s later]: {note['subject']}",
                    "\n".join(lines),
                )
                return
    say("  (no answer from the guard in time)")


def _api_params(params: dict[str, Any]) -> dict[str, Any]:
    names = {
        "cluster_name": "clusterName",
        "principal_arn": "principalArn",
        "policy_arn": "policyArn",
        "access_scope": "accessScope",
    }
    return {names[k]: v for k, v in params.items()}


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def person(iam: Any, name: str) -> dict[str, str]:
    iam.create_user(UserName=name)
    return iam.create_access_key(UserName=name)["AccessKey"]  # type: ignore[no-any-return]


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.monotonic()
    with local_aws() as endpoint:
        from access_guard.core.config import Env

        from .baseline_key import ensure_baseline_key
        from .runner import Pipeline

        emulator = Emulator(endpoint)
        emulator.set_eks_settings(mode_update_seconds=1.0)
        emulator.set_cloudtrail_delivery(delay_seconds=DELIVERY_DELAY)
        # The handlers' logs and metrics go to CloudWatch in AWS; here they would drown the story.
        quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
        # The deployment's baseline key: the guard applies only baselines pushed under it.
        key = ensure_baseline_key(boto3.client("kms", region_name=REGION))
        quiet[Env.BASELINE_KEY_ARN] = key
        pipeline = Pipeline.create(endpoint, region=REGION, environment=quiet)
        iam = boto3.client("iam", region_name=REGION)
        trust = '{"Version":"2012-10-17","Statement":[]}'
        iam.create_role(RoleName="platform-admins", Path="/platform/", AssumeRolePolicyDocument=trust)
        iam.create_role(RoleName="oncall-viewers", AssumeRolePolicyDocument=trust)
        iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=trust)
        alice, bob = person(iam, "alice"), person(iam, "bob")
        story = Story(endpoint, emulator, pipeline, started, [], bob)
        pipeline.start()
        try:
            say(
                f"Local AWS on {endpoint}: moto, the EKS access-entry emulator, and the guard's event "
                "pipeline (the same Lambda handlers as in AWS). No AWS account involved."
            )
            say("1. Alice creates the cluster with the API's defaults (CONFIG_MAP).")
            story.aws(
                alice, "eks", "create-cluster", "--name", CLUSTER,
                "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
                "--resources-vpc-config", "subnetIds=subnet-1,subnet-2", "--query", "cluster.status",
            )  # fmt: skip
            say("   Who can get in (the emulator's access oracle):", story.who_can_administer())
            iam.delete_access_key(UserName="alice", AccessKeyId=alice["AccessKeyId"])
            iam.delete_user(UserName="alice")
            pipeline.wait_quiet()  # (the guard hears of it, but manages no cluster yet)
            say("   Alice leaves; her IAM user is deleted.", story.who_can_administer())

            say("2. The platform team stores the baseline of the access it wants, in SSM.")
            with tempfile.TemporaryDirectory(prefix="access-guard-demo-") as folder:
                path = os.path.join(folder, f"{CLUSTER}.yaml")
                with open(path, "w") as handle:
                    handle.write(BASELINE)
                since = time.monotonic()
                story.shell(
                    sys.executable,
                    "-m",
                    "access_guard",
                    "baseline",
                    "push",
                    path,
                    show=f"access-guard baseline push {CLUSTER}.yaml",
                )
            story.guard_answer("baseline stored", since)
            say("   Who can get in now:", story.who_can_administer())

            bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
            say("3. Bob, who may call EKS, grants himself cluster admin.")
            since = time.monotonic()
            story.aws_at_once(
                bob,
                ("create_access_entry", {"cluster_name": CLUSTER, "principal_arn": bob_arn}),
                (
                    "associate_access_policy",
                    {
                        "cluster_name": CLUSTER,
                        "principal_arn": bob_arn,
                        "policy_arn": ADMIN,
                        "access_scope": {"type": "cluster"},
                    },
                ),
            )
            story.guard_answer("rogue admin", since)
            say("   Who can get in now:", story.who_can_administer())

            say("4. Someone disassociates the on-call viewers' policy.")
            since = time.monotonic()
            story.aws(
                bob, "eks", "disassociate-access-policy", "--cluster-name", CLUSTER,
                "--principal-arn", ONCALL_ROLE, "--policy-arn", VIEW,
            )  # fmt: skip
            story.guard_answer("policy disassociated", since)

            say("5. Someone deletes the platform admins' entry by mistake.")
            since = time.monotonic()
            story.aws(
                bob, "eks", "delete-access-entry", "--cluster-name", CLUSTER, "--principal-arn", PLATFORM_ROLE
            )
            say("   Who can get in right after:", story.who_can_administer())
            story.guard_answer("entry deleted", since)
            say("   Who can get in now:", story.who_can_administer())

            say("6. Timeline (each change, and how long until the guard had put it back):")
            for what, reason, after, done in story.timeline:
                print(
                    f"  {what:<22} {after:5.1f} s  {_clip(reason)}"
                    + (f"\n  {'':<22}         -> {_clip(done)}" if done else "")
                )
            recovered = break_glass(story, emulator, iam)
            drift = story.shell(
                sys.executable, "-m", "access_guard", "plan", "--cluster", CLUSTER,
                show=f"access-guard plan --cluster {CLUSTER}",
            )  # fmt: skip
            admins = emulator.admins(CLUSTER, region=REGION)
            ok = recovered and drift == 0 and admins == [PLATFORM_ROLE] and len(story.timeline) == 4
            ok = identity_center(story) and ok
            elapsed = time.monotonic() - started
            say(
                f"The baseline holds; the guard did all of it on its own, and the break glass ended on its "
                f"own ({elapsed:.0f} s in all)."
                if ok
                else "The demo did not end as expected: see above."
            )
            return 0 if ok else 1
        finally:
            pipeline.stop()
            print(
                json.dumps({"deadLetters": pipeline.dead_letters()}) if os.environ.get("DEMO_DEBUG") else "",
                end="",
            )


if __name__ == "__main__":
    sys.exit(main())
