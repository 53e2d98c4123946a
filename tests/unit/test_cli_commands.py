"""The root command's table of lazily loaded commands matches what the command modules register."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

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
