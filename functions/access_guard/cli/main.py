"""`access-guard`: the operator CLI (validate, baseline push/show/capture, plan, apply) and the on-call
`breakglass` commands (`cli/breakglass.py`, through the break-glass API).

A thin shell: it parses arguments, builds clients, calls the store and the reconciler, and hands model
objects to `render`. Exit codes: 0 success / no drift, 1 error or failure, 2 drift (plan, and apply in
detect mode), 130 interrupted. Every error is one `error:` line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

from ..core import describe, identity_center
from ..core.breakglass import API_URL_ENV, SERVICE_STACK_NAME
from ..core.config import AWS_MANAGED_SSM_KEY, DEFAULT_PREFIX, Env
from ..core.trust import BASELINE_KEY_ALIAS
from . import breakglass, doctor, history, render
from .progress import Progress, on_terminal

# 3: the run wrote what it safely could, but the cluster is not at its baseline (a step the safety rules
# held back, a mode update still running, a principal that no longer exists): look, then run again.
EXIT_OK, EXIT_ERROR, EXIT_DRIFT, EXIT_HELD_BACK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
APPLY_LOCK_WAIT_SECONDS = 30.0  # an operator's apply waits this long for another run on the cluster


class CliError(Exception):
    """An error the operator can act on: printed as one `error:` line, exit 1."""


class _UsageError(CliError):
    pass


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on a usage error, but 2 means "drift" here: scripts must not mistake a typo for it.
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


# --- arguments -------------------------------------------------------------------------------------------

# The global options and their values when not given (they are accepted before or after the command, so
# every parser carries them with SUPPRESS defaults, and `_fill_defaults` sets what was not given).
GLOBAL_DEFAULTS: dict[str, Any] = {
    "region": None,
    "endpoint_url": None,
    "profile": None,
    "api_url": None,
    "json": False,
    "no_color": False,
}


def _global_options() -> _Parser:
    """Options accepted before or after the command (`--region X plan ...` and `plan --region X ...`).

    Defaults are SUPPRESS so that a sub-command's parser does not overwrite a value given before it.
    """
    common = _Parser(add_help=False)
    group = common.add_argument_group("global options (before or after the command)")
    s = argparse.SUPPRESS
    group.add_argument("--region", default=s, help="AWS region (default: the session's default region)")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=s,
        help="send AWS calls here, e.g. the local AWS (default: AWS_ENDPOINT_URL)",
    )
    group.add_argument(
        "--profile", default=s, help="AWS named profile (default: the default credential chain)"
    )
    group.add_argument(
        "--api-url",
        metavar="URL",
        default=s,
        help=f"the break-glass API's invoke URL (default: ${API_URL_ENV}, else the stack "
        f"{SERVICE_STACK_NAME.format(region='REGION')}'s ApiUrl output)",
    )
    group.add_argument("--json", action="store_true", default=s, help="print one JSON document on stdout")
    group.add_argument("--no-color", action="store_true", default=s, help="no colour (also: NO_COLOR set)")
    return common


def _store_options() -> _Parser:
    options = _Parser(add_help=False)
    options.add_argument(
        "--prefix",
        help=f"SSM parameter prefix of the baselines (default: {DEFAULT_PREFIX}, env {Env.PREFIX})",
    )
    return options


def _read_options() -> _Parser:
    options = _Parser(add_help=False)
    options.add_argument(
        "--concurrency", type=_positive_int, default=10, help="parallel EKS reads (default: 10)"
    )
    return options


def _poll_option(parser: argparse.ArgumentParser) -> None:
    # Advanced: how often to poll an authentication-mode update (tests and demos make it fast).
    parser.add_argument("--poll-seconds", type=_positive_float, help=argparse.SUPPRESS)


CLUSTER_HELP = "the EKS cluster's name"
ALIAS_HELP = "the cluster, as a positional argument: the same as --cluster C"


def add_cluster(parser: argparse.ArgumentParser, *, alias: bool = False) -> None:
    """`--cluster C`, the one way every command names its cluster; `alias` also accepts it positionally
    (the older form of `baseline show` and the break-glass actions). `resolve_cluster` checks the two."""
    parser.add_argument("--cluster", metavar="C", help=CLUSTER_HELP)
    if alias:
        parser.add_argument("cluster_alias", metavar="CLUSTER", nargs="?", help=ALIAS_HELP)


def resolve_cluster(args: argparse.Namespace, *, required: bool = True) -> None:
    """One cluster name in `args.cluster`, from --cluster or its positional alias; a usage error when the
    two disagree or (when `required`) neither is given."""
    alias = getattr(args, "cluster_alias", None)
    given = getattr(args, "cluster", None)
    if alias and given and alias != given:
        raise _UsageError(f"two clusters given: {alias} and --cluster {given}; name one")
    args.cluster = given or alias
    if required and not args.cluster:
        raise _UsageError("the cluster is required: --cluster C")


def _epilog(*examples: str) -> str:
    return "example" + ("s" if len(examples) > 1 else "") + ":\n" + "\n".join("  " + e for e in examples)


def command_parser(commands: Any, name: str, summary: str, parents: list[Any], *examples: str) -> Any:
    """A sub-command with its one-line summary (in the list and as its description) and its examples."""
    return commands.add_parser(
        name,
        parents=parents,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=_epilog(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("eks-access-guard")
    except PackageNotFoundError:  # run from a source tree without installing it
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    common = _global_options()
    store, reads = _store_options(), _read_options()
    parser = _Parser(
        prog="access-guard",
        parents=[common],
        description="Keep Amazon EKS cluster access at its baseline: validate, store, plan and apply; on "
        "call, break glass.",
        epilog=(
            _epilog(
                "access-guard baseline push payments.yaml",
                "access-guard plan --cluster payments",
                'access-guard breakglass restore --cluster payments --reason "INC-7: locked out"',
            )
            + "\n\nExit codes: 0 ok / no drift, 1 error, 2 drift (plan; apply in detect mode), 3 applied "
            "what it safely could but the baseline is not reached (apply), 130 interrupted."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"access-guard {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    validate = command_parser(
        commands,
        "validate",
        "check a baseline file and store nothing",
        [common],
        "access-guard validate payments.yaml",
    )
    validate.add_argument("file", metavar="FILE", help="baseline file (YAML or JSON; - for stdin)")

    baseline = commands.add_parser(
        "baseline",
        parents=[common],
        help="store, show, capture or delete baselines",
        description="Store, show, capture or delete the baselines in SSM Parameter Store.",
    )
    baseline_commands = baseline.add_subparsers(
        dest="baseline_command", metavar="ACTION", parser_class=_Parser
    )
    baseline_commands.required = True
    push = command_parser(
        baseline_commands,
        "push",
        "validate a baseline and store it in SSM (a SecureString in its cluster's region)",
        [common, store],
        "access-guard baseline push payments.yaml",
    )
    push.add_argument("file", metavar="FILE", help="baseline file (YAML or JSON; - for stdin)")
    push.add_argument(
        "--kms-key-id",
        help="the KMS key that encrypts the SecureString (default: the deployment's key, else alias/aws/ssm)",
    )
    show = command_parser(
        baseline_commands,
        "show",
        "print the stored baseline of a cluster (YAML; JSON with --json)",
        [common, store],
        "access-guard baseline show --cluster payments",
    )
    add_cluster(show, alias=True)
    delete = command_parser(
        baseline_commands,
        "delete",
        "stop managing a cluster on purpose: its baseline goes, its owners are told (no alarm)",
        [common, store],
        "access-guard baseline delete --cluster payments",
    )
    add_cluster(delete)
    delete.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    capture = command_parser(
        baseline_commands,
        "capture",
        "write a cluster's live access configuration out as a baseline",
        [common, reads],
        "access-guard baseline capture --cluster payments -o payments.yaml",
    )
    add_cluster(capture)
    capture.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    capture.add_argument(
        "--keep-arns",
        action="store_true",
        help="write IAM Identity Center roles as ARNs, not as permission sets (accessGuard.identityCenter)",
    )

    plan = command_parser(
        commands,
        "plan",
        "show what it takes to bring a cluster to its stored baseline; change nothing",
        [common, store, reads],
        "access-guard plan --cluster payments",
    )
    add_cluster(plan)

    apply = command_parser(
        commands,
        "apply",
        "show the plan, confirm, apply it and report",
        [common, store, reads],
        "access-guard apply --cluster payments",
        "access-guard apply --cluster payments --yes",
    )
    add_cluster(apply)
    apply.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    apply.add_argument(
        "--override-detect",
        action="store_true",
        help="apply on a cluster in detect mode (detect mode governs what the guard does on its own)",
    )
    _poll_option(apply)

    replay = command_parser(
        commands,
        "replay",
        "run the remediation's decision on one event: which cluster, ignored and why, what it writes",
        [common, store, reads],
        "access-guard replay event.json --dry-run",
    )
    replay.add_argument(
        "file", metavar="EVENT", help="an EventBridge event or a bare CloudTrail record (JSON)"
    )
    replay.add_argument("--dry-run", action="store_true", help="show what it would write, and write nothing")
    _poll_option(replay)
    breakglass.add_parser(commands, common, _Parser)
    doctor.add_parser(commands, common, _Parser)
    history.add_parser(commands, common)
    return parser


def _fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


# --- settings and clients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    region: str | None
    endpoint_url: str | None
    profile: str | None
    prefix: str
    kms_key_id: str | None
    concurrency: int
    colour: bool
    poll_seconds: float | None


def _settings(args: argparse.Namespace, env: dict[str, str] | os._Environ[str], stdout: TextIO) -> Settings:
    no_colour = getattr(args, "no_color", False) or bool(env.get("NO_COLOR"))
    is_tty = bool(getattr(stdout, "isatty", lambda: False)())
    return Settings(
        region=getattr(args, "region", None),
        endpoint_url=getattr(args, "endpoint_url", None),
        profile=getattr(args, "profile", None),
        prefix=getattr(args, "prefix", None) or env.get(Env.PREFIX) or DEFAULT_PREFIX,
        kms_key_id=getattr(args, "kms_key_id", None),
        concurrency=getattr(args, "concurrency", None) or 10,
        colour=is_tty and not no_colour and not getattr(args, "json", False),
        poll_seconds=getattr(args, "poll_seconds", None),
    )


class Aws:
    """The clients and adapters one command needs, built lazily for one region."""

    def __init__(self, settings: Settings, region: str) -> None:
        self.settings = settings
        self.region = region

    def client(self, service: str) -> Any:
        from ..adapters.clients import client

        return client(
            service,
            region=self.region,
            endpoint_url=self.settings.endpoint_url,
            profile=self.settings.profile,
            max_pool_connections=max(10, self.settings.concurrency),
            fail_fast=True,
        )

    def store(self, *, push: bool = False) -> Any:
        """The baseline store. Reading, it refuses a baseline that is not a SecureString under the
        deployment's baseline key; pushing, it encrypts with that key and refuses any other one."""
        from ..adapters.baseline_store import BaselineStore

        try:
            store = BaselineStore(self.client("ssm"), prefix=self.settings.prefix)
        except ValueError as exc:  # a prefix SSM cannot hold
            raise CliError(str(exc)) from None
        key_arn = self.baseline_key(required=False)
        if push and key_arn is None:
            # No guard here (no deployment key): still a SecureString, under the key asked for or AWS's own.
            store.kms_key_id = self.settings.kms_key_id or AWS_MANAGED_SSM_KEY
            return store
        if push and self.settings.kms_key_id:
            asked = self._key_arn(self.settings.kms_key_id)
            if asked != key_arn:
                raise CliError(
                    f"--kms-key-id {self.settings.kms_key_id} is not the deployment's baseline key "
                    f"({BASELINE_KEY_ALIAS}, {key_arn}): the guard applies only baselines under that key. "
                    "Nothing was stored."
                )
        store.kms_key_id = key_arn if push else None
        store.trusted_key_arn = key_arn
        return store

    def key_note(self, key: str | None) -> str:
        """Which key a pushed baseline was encrypted with, in one line."""
        if key == AWS_MANAGED_SSM_KEY or key == self.settings.kms_key_id and key != BASELINE_KEY_ALIAS:
            return (
                f"Encrypted with {key}: no key {BASELINE_KEY_ALIAS} in {self.region} (no guard is deployed "
                "here; a guard applies only baselines under its own key)."
            )
        return f"Encrypted with the deployment's key {BASELINE_KEY_ALIAS}."

    def baseline_key(self, *, required: bool) -> str | None:
        """The ARN of the deployment's baseline key, found by its alias (None if absent and not required)."""
        arn = self._key_arn(BASELINE_KEY_ALIAS, missing_ok=not required)
        if arn is None and not required:
            self.warn(
                f"warning: no baseline key ({BASELINE_KEY_ALIAS}) in {self.region}: the guard is not "
                "deployed here, and baselines are read without checking who wrote them"
            )
        return arn

    def _key_arn(self, key_id: str, *, missing_ok: bool = False) -> str | None:
        import botocore.exceptions

        try:
            return str(self.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                raise
            if missing_ok:
                return None
            if key_id == BASELINE_KEY_ALIAS:
                raise CliError(
                    f"no baseline key in {self.region}: {BASELINE_KEY_ALIAS} does not exist (deploy the "
                    "guard to this region first, or run `python -m local serve` locally). Nothing was stored."
                ) from None
            raise CliError(f"KMS key {key_id} not found in {self.region}. Nothing was stored.") from None

    def warn(self, text: str) -> None:
        sys.stderr.write(text + "\n")

    def enforcer(
        self, holder: str, *, notify: bool = True, progress: Progress | None = None
    ) -> tuple[Any, str | None]:
        """The Enforcer every writer uses, with this region's deployment (its locks, grants, audit and topic,
        from the deployment record, with ACCESS_GUARD_* settings winning), and a line to say when there is
        none (the CLI then works alone: no lock, no grants)."""
        from ..adapters.deployment import read_deployment
        from ..core.config import Config, ConfigError
        from ..core.deployment import DeploymentRecordError, with_overrides
        from ..services.enforce import Enforcer

        try:
            record = read_deployment(self.client("ssm"), self.settings.prefix, self.region)
        except DeploymentRecordError as exc:
            raise CliError(str(exc)) from None
        env = with_overrides(record, os.environ)
        env[Env.PREFIX] = self.settings.prefix
        try:
            config = Config.from_env(env)
        except ConfigError as exc:
            raise CliError(str(exc)) from None
        dynamodb = self.client("dynamodb")
        from ..adapters.audit_table import AuditTable
        from ..adapters.grants_table import GrantsTable
        from ..adapters.notifier import Notifier
        from ..adapters.state_table import StateTable

        alone = None
        if config.state_table is None:
            alone = (
                f"No guard is deployed in {self.region} (no deployment record at the prefix): this run "
                "takes no cluster lock and sees no break-glass grants."
            )
        enforcer = Enforcer(
            store=self.store(),
            reconciler=self.reconciler(progress),
            config=config,
            state=StateTable(dynamodb, config.state_table) if config.state_table else None,
            grants=GrantsTable(dynamodb, config.grants_table) if config.grants_table else None,
            notifier=Notifier(self.client("sns"), config.topic_arn) if notify and config.topic_arn else None,
            audit=AuditTable(dynamodb, config.audit_table) if config.audit_table else None,
            holder=holder,
        )
        return enforcer, alone

    def reconciler(self, progress: Progress | None = None) -> Any:
        from ..services.reconcile import Reconciler

        options: dict[str, Any] = {"concurrency": self.settings.concurrency}
        if self.settings.poll_seconds is not None:
            options["mode_update_poll_seconds"] = self.settings.poll_seconds
        eks = self.client("eks")
        if progress is not None:
            progress.watch(eks)
        return Reconciler(eks=eks, iam=self.client("iam"), **options)


def _resolve_region(settings: Settings) -> str:
    if settings.region:
        return settings.region
    import boto3
    import botocore.exceptions

    try:
        region = boto3.Session(profile_name=settings.profile).region_name
    except botocore.exceptions.ProfileNotFound as exc:
        raise CliError(str(exc)) from None
    if not region:
        raise CliError(
            "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION or a profile's region"
        )
    return region


# --- commands ----------------------------------------------------------------------------------------------


@dataclass
class Io:
    out: TextIO
    err: TextIO
    stdin: TextIO

    def print(self, text: str = "") -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")

    def note(self, text: str) -> None:
        self.err.write(text if text.endswith("\n") else text + "\n")


def _read_file(path: str, io: Io) -> str:
    if path == "-":
        return io.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: not UTF-8 text") from None


def cmd_validate(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    from ..core.baseline import BaselineError, load

    text = _read_file(args.file, io)
    try:
        baseline = load(text)
    except BaselineError as exc:
        if args.json:
            problems = [str(p) for p in getattr(exc, "problems", []) or []] or [str(exc)]
            io.print(json.dumps({"file": args.file, "valid": False, "problems": problems}, indent=2))
        _report_invalid(args.file, exc, io)
        return EXIT_ERROR
    mode = baseline.authentication_mode or "any"
    if args.json:
        doc = {"file": args.file, "valid": True, "cluster": baseline.cluster, "region": baseline.region}
        doc.update(entries=len(baseline.entries), mode=baseline.settings.mode, problems=[])
        io.print(json.dumps(doc, indent=2))
        return EXIT_OK
    io.print(
        f"{args.file}: valid baseline for cluster {baseline.cluster} in {baseline.region} "
        f"({_count(len(baseline.entries), 'entry', 'entries')}, authentication mode {mode}, "
        f"{baseline.settings.mode} mode)"
    )
    return EXIT_OK


def _report_invalid(name: str, exc: Any, io: Io) -> None:
    problems = list(getattr(exc, "problems", []) or [])
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "it cannot be read"
    io.note(f"error: {name} is not a valid baseline ({count}):")
    for problem in problems:
        io.note(f"  - {problem}")
    if not problems:
        io.note(f"  - {exc}")


def cmd_baseline_push(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    from ..core.baseline import BaselineError, load

    text = _read_file(args.file, io)
    try:
        baseline = load(text)  # validate before any AWS call: bad input changes nothing
    except BaselineError as exc:
        _report_invalid(args.file, exc, io)
        return EXIT_ERROR
    # A baseline lives in its cluster's region, where plan, apply and that region's service look for it.
    if settings.region and settings.region != baseline.region:
        raise CliError(
            f"{args.file} is the baseline of {baseline.cluster} in {baseline.region}, but --region is "
            f"{settings.region}: baselines are stored in their cluster's region (drop --region, or fix "
            "metadata.region). Nothing was stored."
        )
    region = baseline.region
    aws = Aws(settings, region)
    try:
        store = aws.store(push=True)
        stored = store.put(text)
    except BaselineError as exc:
        _report_invalid(args.file, exc, io)
        return EXIT_ERROR
    for warning in _push_warnings(aws, stored.cluster, region, settings.prefix):
        io.note(f"warning: {warning}")
    io.note(aws.key_note(store.kms_key_id))
    where = f"{settings.prefix}" + ("" if settings.prefix.endswith("/") else "/")
    entries = _count(len(stored.entries), "entry", "entries")
    if args.json:
        doc = {"stored": True, "cluster": stored.cluster, "region": stored.region, "prefix": where}
        io.print(json.dumps({**doc, "entries": len(stored.entries)}, indent=2))
        return EXIT_OK
    io.print(
        f"Stored the baseline of cluster {stored.cluster} in {stored.region} ({entries}) "
        f"in SSM Parameter Store under {where} ({region})."
    )
    return EXIT_OK


def _push_warnings(aws: Aws, cluster: str, region: str, prefix: str) -> list[str]:
    """What makes a stored baseline do nothing: no such cluster, or no guard watching these baselines."""
    from ..adapters.deployment import cluster_exists, rule_with_pattern
    from ..core.triggers import baseline_pattern

    warnings = []
    if not cluster_exists(aws.client("eks"), cluster):
        warnings.append(
            f"there is no EKS cluster {cluster} in {region}: the baseline is stored, and applies once a "
            "cluster of that name exists there (a typo in metadata.name or metadata.region?)"
        )
    if not rule_with_pattern(aws.client("events"), baseline_pattern(prefix)):
        warnings.append(
            f"no Access Guard watches the baselines under {prefix} in {region}: nothing acts on this one "
            "until the guard is deployed there (see the README: Deploy it)"
        )
    return warnings


def cmd_baseline_delete(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    """Stop managing a cluster on purpose: a marker says who, then the baseline goes; the guard tells the
    owners "no longer managed, by WHO" instead of raising the baseline-deleted alarm."""
    from datetime import UTC, datetime

    region = _resolve_region(settings)
    aws = Aws(settings, region)
    store = aws.store()
    if not store.exists(args.cluster, region):
        raise CliError(
            f"no baseline stored for {args.cluster} in {region}: it is not managed. Nothing changed."
        )
    if not args.yes:
        if not _stdin_is_tty(io):
            raise CliError(
                "baseline delete needs confirmation: run it on a terminal, or pass --yes. Nothing changed."
            )
        io.out.write(
            f"Stop managing {args.cluster} in {region}? The guard will no longer keep its access or answer "
            f"changes to it.\nType the cluster's name to confirm: "
        )
        io.out.flush()
        if io.stdin.readline().strip() != args.cluster:
            io.note("Cancelled. Nothing changed.")
            return EXIT_ERROR
    who = str(aws.client("sts").get_caller_identity()["Arn"])
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    store.retire(args.cluster, region, by=who, at=now)
    store.delete(args.cluster, region)
    if args.json:
        io.print(
            json.dumps({"cluster": args.cluster, "region": region, "managed": False, "by": who}, indent=2)
        )
    else:
        io.print(
            f"{args.cluster} in {region} is no longer managed (by {who}): its baseline is deleted, and the "
            "guard tells its owners so (no alarm). Push a baseline to manage it again."
        )
    return EXIT_OK


def cmd_baseline_show(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    from ..core.baseline import dump

    region = _resolve_region(settings)
    baseline = Aws(settings, region).store().get(args.cluster, region)
    io.print(dump(baseline, "json" if args.json else "yaml"))
    return EXIT_OK


def _capture_says(prune: bool) -> str:
    """The captured baseline's header, saying what its prune setting does. A capture keeps what is not in
    it (prune off: the default): its first push never deletes an entry nobody reviewed, and what it keeps
    is listed by plan, drift and the notes, never silent."""
    if prune:
        return (
            "# Review it before pushing. Guard puts back every entry here as it is written, and with\n"
            "# prune: true below removes every entry that is not here.\n"
        )
    return (
        "# Review it before pushing. Guard puts back every entry here as it is written. With prune: false\n"
        "# below, entries that are not here are kept and listed (cluster admins first) by plan, drift and\n"
        "# the notes; set it to true to have Guard remove them.\n"
    )


def cmd_baseline_capture(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    import yaml

    from ..core.baseline import capture_document

    region = _resolve_region(settings)
    with _progress(io, args, f"reading {args.cluster}") as progress:
        live = Aws(settings, region).reconciler(progress).read_cluster(args.cluster, region)
    document = capture_document(live, keep_arns=args.keep_arns)
    captured = {e["principalARN"] for e in document.get("accessConfig", {}).get("accessEntries", [])}
    written_sets = {s["permissionSet"] for s in document.get("accessGuard", {}).get("identityCenter", [])}
    as_sets: dict[str, str] = {}  # live role ARN -> the permission set it was written as
    for arn, entry in live.entries.items():
        name = identity_center.permission_set_of(arn, live.account_id)
        if name in written_sets and entry.principal_status not in ("missing", "recreated"):
            as_sets[arn] = str(name)
    captured |= set(as_sets)
    left_out = sorted(set(live.entries) - captured)
    header = (
        f"# Captured from the live access configuration of EKS cluster {live.cluster} in {live.region}.\n"
        + _capture_says(bool(document.get("accessGuard", {}).get("prune")))
    )
    if args.json:
        text = json.dumps(document, indent=2) + "\n"
    else:
        text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        entries = _count(len(captured), "entry", "entries")
        io.note(f"Wrote the baseline of {live.cluster} ({entries}) to {args.output}.")
    else:
        io.out.write(text)
    for arn, name in sorted(as_sets.items(), key=lambda item: item[1]):
        io.note(f"Wrote {arn} as IAM Identity Center permission set {name} (--keep-arns keeps the ARN).")
    # Entries bound to a deleted or recreated IAM principal grant nothing: writing them down would hand a
    # new identity the old one's access. Node entries are Guard's to leave alone unless a baseline names them.
    dead = [a for a in left_out if live.entries[a].principal_status in ("missing", "recreated")]
    nodes = [a for a in left_out if a not in dead]
    for arns, why in (
        (dead, "whose IAM principal is deleted or recreated"),
        (nodes, "for nodes (Guard leaves node entries alone unless the baseline names them)"),
    ):
        if arns:
            io.note(f"Left out {_count(len(arns), 'entry', 'entries')} {why}:")
            for arn in arns:
                io.note(f"  - {arn}")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    region = _resolve_region(settings)
    aws = Aws(settings, region)
    with _progress(io, args, f"reading {args.cluster}") as progress:
        reconciler = aws.reconciler(progress)
        baseline = reconciler.resolve(aws.store().get(args.cluster, region))  # Identity Center sets
        _live, plan = reconciler.plan(baseline)
    mode = baseline.settings.mode
    if args.json:
        doc = describe.plan_json(plan, mode=mode)
        doc["permissionSets"] = describe.permission_sets_json(baseline)
        io.print(json.dumps(doc, indent=2))
    else:
        io.out.write(describe.render_permission_sets(baseline))
        io.out.write(render.render_plan(plan, mode=mode, colour=settings.colour))
    return EXIT_DRIFT if describe.has_drift(plan) else EXIT_OK


def cmd_apply(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    """Show the plan, confirm, and apply it through the Enforcer: under the cluster's lock (the service's,
    when it is deployed), with the live break-glass grants kept, and only if the cluster still plans the
    same."""
    from ..adapters.state_table import ClusterBusy
    from ..core.report import Trigger

    region = _resolve_region(settings)
    aws = Aws(settings, region)
    with _progress(io, args, f"reading {args.cluster}") as progress:
        enforcer, alone = aws.enforcer("cli-apply", progress=progress)
        desired = enforcer.desired(args.cluster, region)  # the baseline with the live grants merged
        baseline = desired.baseline
        reconciler = enforcer.reconciler
        live, plan = reconciler.plan(baseline)
    detect = enforcer.detect_only(baseline)
    mode = "detect" if detect else baseline.settings.mode
    human = not args.json
    if human:
        io.out.write(describe.render_permission_sets(baseline))
        io.out.write(render.render_plan(plan, mode=mode, colour=settings.colour))

    def finish_without_applying(code: int, message: str) -> int:
        if human:
            io.print(message)
        else:
            # The shape of Outcome.to_json(), for an apply that wrote nothing.
            planned = [describe.action_json(a) for a in plan.actions]
            doc = describe.plan_json(plan, mode=mode)
            doc.update(
                applied=False,
                succeeded=code == EXIT_OK,
                reachedBaseline=code == EXIT_OK,
                planned=planned,
                done=[],
                failed=[],
                notAttempted=planned,
                inProgress=None,
                error=None,
                message=message,
            )
            io.print(json.dumps(doc, indent=2))
        return code

    if not plan.actions:
        if plan.refusals or plan.warnings:
            return finish_without_applying(
                EXIT_HELD_BACK,
                "Nothing Guard may apply, and the cluster is not at its baseline: see above.",
            )
        return finish_without_applying(EXIT_OK, "Nothing to apply.")
    if detect and not args.override_detect:
        return finish_without_applying(
            EXIT_DRIFT,
            f"{plan.cluster} is in detect mode: Access Guard reports this drift and changes nothing on "
            "its own. To apply it anyway, run apply again with --override-detect.",
        )
    if not args.yes:
        if not _stdin_is_tty(io):
            raise CliError(
                "apply needs confirmation: run it on a terminal, or pass --yes. Nothing was changed."
            )
        count = len(plan.actions)
        prompt = f"\nApply these {count} change{'s' if count != 1 else ''} to {plan.cluster}? [y/N] "
        (io.out if human else io.err).write(prompt)
        (io.out if human else io.err).flush()
        answer = io.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            io.note("Cancelled. Nothing was changed.")
            return EXIT_ERROR

    # The plan runs only if the cluster, read again under the lock, still plans the same (the prompt may
    # have waited for hours, and another writer may have run meanwhile).
    if alone:
        io.note(alone)
    trigger = Trigger("apply", f"access-guard apply of {args.cluster}")
    try:
        with _progress(io, args, f"applying to {args.cluster}") as applying:
            applying.watch(aws.client("eks"))  # the Enforcer's reconciler writes with this (cached) client
            report = enforcer.run(
                args.cluster,
                region,
                trigger=trigger,
                approved=(live, plan),
                override_detect=True,
                lock_wait_seconds=APPLY_LOCK_WAIT_SECONDS,
            )
    except ClusterBusy as exc:
        raise CliError(f"{exc}. Nothing was changed.") from None
    outcome = report.outcome
    if outcome is None:
        raise CliError(f"{report.skipped}. Nothing was changed.")
    admins = describe.touched_admins(outcome.written, outcome.live)
    code = EXIT_OK if outcome.reached_baseline else EXIT_HELD_BACK if outcome.succeeded else EXIT_ERROR
    if human:
        io.print("")
        if not outcome.applied:
            io.print(f"Apply refused: {outcome.error}. Nothing was changed.")
            return code
        io.out.write(render.render_results(outcome.results, outcome.not_attempted, colour=settings.colour))
        io.print("")
        io.out.write(render.render_outcome_notes(outcome, colour=settings.colour))
        io.out.write(
            render.render_apply_summary(outcome.results, outcome.not_attempted, colour=settings.colour)
        )
        if admins:
            io.print(describe.RBAC_NOTE + " Admin entries removed or changed: " + ", ".join(admins) + ".")
    else:
        doc = describe.plan_json(outcome.plan, mode=mode)
        doc.update(outcome.to_json())
        doc["permissionSets"] = describe.permission_sets_json(baseline)
        doc["rbacWarning"] = describe.RBAC_NOTE if admins else None
        doc["adminEntriesTouched"] = admins
        io.print(json.dumps(doc, indent=2, default=str))
    return code


def cmd_replay(args: argparse.Namespace, settings: Settings, io: Io) -> int:
    """The event path's decision on one event, made here: parse, resolve to clusters, reconcile (or plan).

    It writes what the remediation would write (not with --dry-run) through the same safety module, but
    publishes no notification. The service's settings (its own roles, its tables) come from the same
    environment variables the Lambdas read, when they are set.
    """
    from ..adapters.state_table import ClusterBusy
    from ..core.config import Config, ConfigError
    from ..core.events import Ignored, parse
    from ..core.report import Trigger
    from ..core.work import changes_of
    from ..services.intake import Intake

    text = _read_file(args.file, io)
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{args.file} is not JSON: {exc}") from None
    try:
        config = Config.from_env({**os.environ, Env.PREFIX: settings.prefix})
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    region = _resolve_region(settings)
    aws = Aws(settings, region)
    account = aws.client("sts").get_caller_identity()["Account"]
    intent = parse(
        event, account=account, region=region, prefix=config.prefix, self_roles=config.self_role_arns
    )
    doc: dict[str, Any] = {"event": args.file, "decision": None, "work": []}
    if isinstance(intent, Ignored):
        if intent.reason.startswith("malformed"):  # not an event at all: the operator's file is wrong
            raise CliError(f"{args.file} is not an event the guard reads ({intent.reason})")
        doc["decision"] = f"ignored: {intent.reason}"
        io.print(json.dumps(doc, indent=2) if args.json else f"Ignored: {intent.reason}")
        return EXIT_OK
    resolution = Intake(
        store=aws.store(), eks=aws.client("eks"), queue=None, config=config, region=region
    ).resolve(intent)
    if not resolution.work:
        doc["decision"] = f"dropped: {resolution.dropped}"
        if args.json:
            io.print(json.dumps({**doc, "alert": resolution.alert}, indent=2))
        else:
            io.print(
                f"Dropped: {resolution.dropped}"
                + (f"\nAlert: {resolution.alert}" if resolution.alert else "")
            )
        return EXIT_OK
    enforcer, alone = aws.enforcer("cli-replay", notify=False)
    if alone and not args.dry_run:
        io.note(alone)
    doc["decision"] = f"{len(resolution.work)} cluster(s) to reconcile"
    failed = False
    for item in resolution.work:
        scope = "whole cluster" if item.principals is None else "principals " + ", ".join(item.principals)
        trigger = Trigger(item.trigger, item.reason, item.event_id, None, item.actor, changes_of([item]))
        try:
            report = enforcer.run(
                item.cluster,
                item.region,
                trigger=trigger,
                principals=item.principals,
                dry_run=args.dry_run,
                lock_wait_seconds=APPLY_LOCK_WAIT_SECONDS,
            )
        except ClusterBusy as exc:
            raise CliError(f"{exc}. Nothing was changed on {item.cluster}.") from None
        doc["work"].append(
            {
                "cluster": item.cluster,
                "region": item.region,
                "scope": scope,
                "reason": item.reason,
                "skipped": report.skipped,
                "outcome": report.outcome.to_json() if report.outcome else None,
            }
        )
        if args.json:
            continue
        io.print(f"Cluster {item.cluster} ({item.region}), {scope}: {item.reason}")
        if report.outcome is None:
            io.print(f"  skipped: {report.skipped}")
            continue
        outcome = report.outcome
        if args.dry_run:
            mode = aws.store().get(item.cluster, item.region).settings.mode
            io.out.write(render.render_plan(outcome.plan, mode=mode, colour=settings.colour))
            io.print("Dry run: nothing was written.")
        else:
            io.out.write(
                render.render_results(outcome.results, outcome.not_attempted, colour=settings.colour)
            )
            io.out.write(render.render_outcome_notes(outcome, colour=settings.colour))
            failed = failed or not outcome.succeeded
    if args.json:
        io.print(json.dumps(doc, indent=2, default=str))
    return EXIT_ERROR if failed else EXIT_OK


def _progress(io: Io, args: argparse.Namespace, label: str) -> Progress:
    """Progress on stderr when it is a terminal and the output is not --json (quiet otherwise)."""
    return Progress(io.err, enabled=on_terminal(io.err, json_output=bool(args.json)), label=label)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _stdin_is_tty(io: Io) -> bool:
    try:
        return bool(io.stdin.isatty())
    except (AttributeError, ValueError):
        return False


_COMMANDS: dict[tuple[str, str | None], Callable[[argparse.Namespace, Settings, Io], int]] = {
    ("validate", None): cmd_validate,
    ("baseline", "push"): cmd_baseline_push,
    ("baseline", "show"): cmd_baseline_show,
    ("baseline", "capture"): cmd_baseline_capture,
    ("baseline", "delete"): cmd_baseline_delete,
    ("plan", None): cmd_plan,
    ("apply", None): cmd_apply,
    ("replay", None): cmd_replay,
    ("breakglass", None): lambda args, settings, io: breakglass.run(args, settings, io),
    ("doctor", None): lambda args, settings, io: doctor.run(args, settings, io),
    ("history", None): lambda args, settings, io: history.run(args, settings, io),
}


# --- errors ------------------------------------------------------------------------------------------------


def _describe_error(exc: BaseException) -> str | None:
    """One line for an error the operator can act on; None for a bug (shown as unexpected)."""
    import botocore.exceptions

    if isinstance(exc, CliError):
        return str(exc)
    from ..adapters.baseline_store import BaselineNotFound, BaselineRejected, BaselineUnreadable
    from ..adapters.eks_reader import ClusterNotFound
    from ..core.baseline import BaselineError

    if isinstance(exc, BaselineNotFound):
        said = _first_line(exc)
        said = said if said.startswith("no baseline") else f"no baseline stored: {said}"
        return f"{said} (push one with `access-guard baseline push FILE`)"
    if isinstance(exc, BaselineRejected):
        return f"refused: {_first_line(exc)} (push it again as a baseline writer)"
    if isinstance(exc, BaselineUnreadable):
        return f"the stored baseline cannot be used: {_first_line(exc)}"
    if isinstance(exc, ClusterNotFound):
        return f"cluster not found: {_first_line(exc)}"
    if isinstance(exc, BaselineError):
        return f"invalid baseline: {'; '.join(str(p) for p in exc.problems) or _first_line(exc)}"
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", None) or "AWS call"
        message = error.get("Message") or ""
        return f"AWS {operation} failed: {error.get('Code', 'Error')}" + (f": {message}" if message else "")
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found (default credential chain); set a profile or credentials"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return f"cannot connect to {url}: is the endpoint up, and --endpoint-url / --region right?"
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return f"AWS: {exc}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run `access-guard` with these arguments; returns the exit code (the console script exits with it)."""
    out, err, stdin = sys.stdout, sys.stderr, sys.stdin
    io = Io(out=out, err=err, stdin=stdin)
    try:
        try:
            args = build_parser().parse_args(list(argv) if argv is not None else None)
        except SystemExit as exc:  # --help
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
        _fill_defaults(args)
        prepare = getattr(args, "prepare", None)
        if prepare is not None:
            prepare(args)
        if hasattr(args, "cluster"):
            resolve_cluster(args, required=not getattr(args, "cluster_optional", False))
        settings = _settings(args, os.environ, out)
        command = _COMMANDS[(args.command, getattr(args, "baseline_command", None))]
        code = command(args, settings, io)
        out.flush()
        return code
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:
        message = _describe_error(exc)
        if message is None:
            if os.environ.get("ACCESS_GUARD_DEBUG"):
                raise
            message = f"unexpected {type(exc).__name__}: {exc} (set ACCESS_GUARD_DEBUG=1 for a traceback)"
        err.write(f"error: {message}\n")
        return EXIT_ERROR
