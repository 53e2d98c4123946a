"""The root command's table of lazily loaded commands matches what the command modules register."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest
import typer

import cli.commands
from cli.main import COMMANDS, build_command
from tests.conftest import ROOT


def test_the_table_lists_every_top_level_command_the_modules_register() -> None:
    scratch = typer.Typer()
    for info in pkgutil.iter_modules(cli.commands.__path__):
        module = importlib.import_module(f"cli.commands.{info.name}")
        if hasattr(module, "register"):  # the others are parts of a command (trade_docs_cmds of escrow)
            module.register(scratch)
    registered = set(typer.main.get_group(scratch).commands)
    assert registered == set(COMMANDS)


def test_each_entry_builds_its_command_from_the_modules_it_names() -> None:
    for name in COMMANDS:
        command = build_command(name)
        assert command.name == name
        assert COMMANDS[name][1].endswith(".") and len(COMMANDS[name][1]) <= 60


def test_help_and_a_command_that_needs_no_chain_import_neither_web3_nor_the_index() -> None:
    probe = (
        "import sys, runpy; sys.argv = ['trace', '--help']\n"
        "try:\n    runpy.run_module('cli.main', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('web3', 'sqlalchemy', 'eth_account', 'trace_api.services') if m in sys.modules)\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Commands:" in done.stdout
    assert done.stderr.strip().endswith("[]"), done.stderr


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from cli.main import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_global_options_mean_the_same_before_or_after_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    document = str(ROOT / "examples" / "events.jsonld")
    runs = [
        _run(capsys, "--json", "epcis", "hash", document),
        _run(capsys, "epcis", "--json", "hash", document),
        _run(capsys, "epcis", "hash", document, "--json"),
        _run(capsys, "epcis", "hash", "--json", "--", document),
    ]
    assert {code for code, _, _ in runs} == {0}
    hashes = [json.loads(out) for _, out, _ in runs]
    assert hashes[0] and all(h == hashes[0] for h in hashes)
    assert all(h.startswith("ni:///sha-256;") for h in hashes[0])


def test_after_a_double_dash_a_global_flag_is_an_argument(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "epcis", "hash", "--", "--json")
    assert code != 0 and out == ""
    assert err.startswith("trace: error: ") and len(err.strip().splitlines()) == 1


def test_a_usage_error_is_reported_as_json_wherever_the_flag_stands(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("epcis", "hash", "--json"), ("--json", "epcis", "hash")):
        code, out, err = _run(capsys, *argv)
        assert code == 2 and out == ""
        assert json.loads(err) == {"error": "Missing argument 'file'.", "exit_status": 2}


def test_each_invocation_starts_from_fresh_options(capsys: pytest.CaptureFixture[str]) -> None:
    document = str(ROOT / "examples" / "events.jsonld")
    _run(capsys, "--json", "epcis", "hash", document)
    code, out, _ = _run(capsys, "epcis", "hash", document)
    assert code == 0
    assert not out.lstrip().startswith("[")  # human output: the --json of the previous run did not stick


def test_state_outside_an_invocation_is_an_error() -> None:
    from cli.context import state

    with pytest.raises(RuntimeError, match="no `trace` invocation"):
        state()


def test_the_read_path_of_batch_show_imports_neither_web3_nor_eth_account() -> None:
    """`trace batch show` reads over the lean JSON-RPC transport: what it loads must not pull web3 (about a second
    to import), eth_account or the QR renderers back in. The run itself, against a chain, is in the CLI bench."""
    probe = (
        "import sys\n"
        "from cli.main import build_command\n"
        "build_command('batch')\n"
        "import trace_api.services.history, trace_api.services.journey, trace_api.index.indexer\n"
        "heavy = ('web3', 'eth_account', 'qrcode', 'PIL', 'trace_api.epcis.model', 'trace_api.chain.sender')\n"
        "sys.stderr.write(repr(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().endswith("[]"), done.stderr
