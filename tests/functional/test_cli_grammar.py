"""One grammar for every command, checked on the installed `access-guard` console script: global options
before or after the command, the cluster named `--cluster C` everywhere (its positional form an alias),
help and an example on every command, `--version`, and errors in the CLI's own words."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from access_guard.cli.main import build_parser, version

CONSOLE_SCRIPT = Path(sys.executable).parent / "access-guard"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
    environment.update(env or {})
    import os

    environment["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args], env=environment, capture_output=True, text=True, timeout=60
    )


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))
            return
    yield path, parser


LEAVES = list(_commands(build_parser()))


def test_version_prints_the_installed_version():
    done = run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"access-guard {version()}")
    assert version()[0].isdigit()


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_has_a_description_an_example_and_help_on_every_option(path):
    parser = dict(LEAVES)[path]
    assert parser.description and parser.description.endswith("."), path
    assert parser.epilog and "access-guard " + " ".join(path) in parser.epilog, path
    for action in parser._actions:
        assert action.help, (path, action.dest)


def test_help_of_a_command_is_printed_by_the_console_script():
    done = run("breakglass", "restore", "--help")
    assert done.returncode == 0
    assert "Bring a cluster back to its baseline now." in done.stdout
    assert "--api-url URL" in done.stdout and "--cluster C" in done.stdout
    assert "example" in done.stdout and '--reason "INC-7' in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--api-url", "http://127.0.0.1:9/v1", "breakglass", "clusters"],
        ["breakglass", "--api-url", "http://127.0.0.1:9/v1", "clusters"],
        ["breakglass", "clusters", "--api-url", "http://127.0.0.1:9/v1"],
    ],
    ids=["before the command", "before the action", "after the action"],
)
def test_a_global_option_is_accepted_before_or_after_the_command(args):
    done = run(*args, env={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"})
    # Nothing listens on port 9: the option was taken, and the error names the endpoint.
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the break-glass API at http://127.0.0.1:9/v1")


def test_an_option_is_accepted_only_where_it_acts():
    done = run("validate", "x.yaml", "--prefix", "/guard/")
    assert done.returncode == 1
    assert "unrecognized arguments: --prefix" in done.stderr


def test_the_cluster_is_named_the_same_way_everywhere_the_positional_form_is_an_alias():
    for path, parser in LEAVES:
        dests = {a.dest for a in parser._actions}
        if "cluster" in dests:
            [option] = [a for a in parser._actions if a.dest == "cluster"]
            assert option.option_strings == ["--cluster"], path
    done = run("baseline", "show", "payments", "--cluster", "orders")
    assert done.returncode == 1
    assert done.stderr == "error: two clusters given: payments and --cluster orders; name one\n"
    done = run("plan")
    assert (done.returncode, done.stderr) == (1, "error: the cluster is required: --cluster C\n")


def test_errors_use_the_clis_words():
    done = run("breakglass", "grant", "--cluster", "c", "--policy", "P", "--minutes", "0", "--reason", "x")
    assert done.returncode == 1
    assert "argument --minutes: must be a whole number of minutes, at least 1: '0'" in done.stderr
    assert "durationMinutes" not in done.stderr


def test_revoke_needs_a_reason():
    done = run("breakglass", "revoke", "--cluster", "c", "0123456789abcdef0123456789abcdef")
    assert done.returncode == 1
    assert "the following arguments are required: --reason" in done.stderr
