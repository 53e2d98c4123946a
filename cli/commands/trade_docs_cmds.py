"""`trace escrow doc` (trade documents and evidence files: attach, list, download) and `trace escrow statement`.

Reading a trade's files needs to be its buyer, seller or arbiter: `--as NAME` (or TRACE_ACCOUNT), else the buyer on
the local chain.
"""

import sys
from pathlib import Path

import typer
from rich.table import Table

from cli.context import console, emit, state
from trace_api.chain.accounts import address_of
from trace_api.errors import TraceError, ValidationError
from trace_api.services.escrow import files as trade_files
from trace_api.services.escrow import statements

doc_app = typer.Typer(
    help="Trade documents and dispute evidence: attach (hash on chain, file encrypted for the "
    "parties and the arbiter), list, download.",
    no_args_is_help=True,
)

TRADE_ID = typer.Argument(..., min=1, help="Trade id.")


def viewer(default: str = "buyer") -> str | None:
    """Who reads: `--as` (or TRACE_ACCOUNT), else ``default`` on the local chain; no key is unlocked to read."""
    name = state().as_ or state().settings.account or default
    try:
        return address_of(state().settings, name)
    except TraceError:
        return None


def files_table(files: list[trade_files.FileEntry], title: str) -> Table:
    table = Table(title=title)
    for col in ("#", "kind", "name", "by", "at", "sha256"):
        table.add_column(col)
    for f in files:
        by = f.by_name or f.by
        table.add_row(
            str(f.n),
            f.kind + (" (dispute)" if f.dispute else ""),
            (f.name or "") if f.stored else "[dim]hash only[/dim]",
            f"{by} ({f.role})" if f.role else by,
            f.at,
            f.sha256,
        )
    return table


@doc_app.command("add")
def add(
    trade_id: int = TRADE_ID,
    kind: str = typer.Option(..., "--kind", help=", ".join(trade_files.DOCUMENT_KINDS) + "."),
    file: Path = typer.Option(
        ..., "--file", help="The document; stored encrypted, its SHA-256 goes on chain.", exists=True, dir_okay=False
    ),
) -> None:
    """Attach a trade document (the buyer or the seller; default signer: seller)."""
    result = trade_files.add_document(
        state().trace(), account=state().account("seller"), trade_id=trade_id, kind=kind, path=file
    )
    emit(
        result.model_dump(mode="json"),
        f"trade {trade_id}: {kind} {result.evidence_sha256} recorded, file stored for the parties and the arbiter",
    )


@doc_app.command("list")
def list_(trade_id: int = TRADE_ID) -> None:
    """The trade's documents and evidence, with who sent each and when."""
    data = trade_files.list_files(state().trace(), trade_id=trade_id, viewer=viewer())
    emit(data.model_dump(mode="json"), files_table(data.files, f"trade {trade_id}: {len(data.files)} file(s)"))


@doc_app.command("get")
def get(
    trade_id: int = TRADE_ID,
    ref: str = typer.Argument(..., help="The file's number in `trace escrow doc list`, or its SHA-256."),
    out: Path = typer.Option(None, "--out", help="Write here (default: the file's name, in this folder)."),
) -> None:
    """Download a trade's file (its buyer, seller or arbiter only), checked against its hash on chain."""
    found = trade_files.read_file(state().trace(), trade_id=trade_id, ref=ref, reader=viewer())
    target = out or Path(Path(found.name).name)
    target.write_bytes(found.data)
    emit(
        {
            "trade_id": trade_id,
            "sha256": found.sha256,
            "name": found.name,
            "media_type": found.media_type,
            "size": len(found.data),
            "out": str(target),
            "verified": True,
        },
        f"wrote {target} ({len(found.data)} bytes), matches {found.sha256} on chain",
    )


def statement(
    trade_id: int = TRADE_ID,
    fmt: str = typer.Option("csv", "--format", help="csv or pdf."),
    out: Path = typer.Option(None, "--out", help="Write here; default: CSV to stdout, PDF to statement-trade-ID.pdf."),
) -> None:
    """Every movement of a trade's money, read from the chain: funded, released, fees, refunds, ruling,
    withdrawals, with block, time, transaction and amounts."""
    if fmt not in statements.FORMATS:
        raise ValidationError(f"unknown statement format {fmt!r}; choose one of {', '.join(statements.FORMATS)}")
    st = statements.statement(state().trace(), trade_id=trade_id)
    _, data = statements.render(st, fmt)
    public = st.public().model_dump(mode="json")
    if out is None and fmt == "pdf":
        out = Path(f"statement-trade-{trade_id}.pdf")
    if out is not None:
        out.write_bytes(data)
        emit({**public, "out": str(out)}, f"wrote {out}: {len(st.rows)} movement(s) of trade {trade_id}")
    elif state().json:
        emit(public)
    else:
        sys.stdout.write(data.decode())
    if out is not None and not state().json:
        totals = ", ".join(f"{k} {v}" for k, v in public["totals"].items() if v != "0")
        console.print(f"totals: {totals}")


def attach(escrow_app: typer.Typer) -> None:
    escrow_app.add_typer(doc_app, name="doc")
    escrow_app.command("statement")(statement)
