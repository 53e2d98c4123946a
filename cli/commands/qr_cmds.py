"""`trace qr make|sheet`, `trace batch units`, `trace verify`: labels for packages and checking them."""

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import typer

from cli.commands.registry_cmds import batch_app
from cli.context import emit, state

# qr's renderers and signing (qrcode, Pillow, eth_account) load in the commands that use them: `trace batch show`
# shares this module and must not pay for them.
from qr import digital_link
from trace_api.chain.accounts import address_of
from trace_api.errors import ConfigError

qr_app = typer.Typer(help="GS1 Digital Link QR codes for batches and units.", no_args_is_help=True)

DOMAIN_HELP = "Resolver printed in the code, e.g. https://id.example.com (default: TRACE_PUBLIC_URL)."
ALLOW_LOCAL_HELP = "Allow a code that points at this machine (testing only: no phone can reach it)."


def _signing_key(sign: bool) -> str | None:
    return state().account("producer").key.hex() if sign else None


def _domain(domain: str | None, allow_local: bool) -> str:
    """The resolver a label points at: --domain, else TRACE_PUBLIC_URL; the local server only when asked for,
    since a printed code that points at 127.0.0.1 works on no phone."""
    chosen = domain or state().settings.public_url.rstrip("/") or digital_link.DEFAULT_DOMAIN
    if domain is None and not allow_local and is_loopback(chosen):
        raise ConfigError(
            f"labels would point at {chosen}, which no phone can reach: set TRACE_PUBLIC_URL or give "
            "--domain https://your-resolver (or --allow-local for a test print)"
        )
    return chosen


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@qr_app.command("make")
def qr_make(
    gtin: str,
    lot: str,
    serial: str = typer.Argument(None, help="Unit serial (AI 21); omit for a batch code."),
    out: Path = typer.Option(..., "-o", "--output", help="Output file: .png or .svg."),
    sign: bool = typer.Option(False, "--sign", help="Add the producer's signature (in the URI fragment)."),
    logo: Path = typer.Option(None, "--logo", help="Brand logo in the centre (PNG output)."),
    domain: str = typer.Option(None, "--domain", help=DOMAIN_HELP, show_default=False),
    allow_local: bool = typer.Option(False, "--allow-local", help=ALLOW_LOCAL_HELP),
) -> None:
    """Make one QR code (error correction H)."""
    from qr import render, signing

    domain = _domain(domain, allow_local)
    uri = (
        digital_link.unit_uri(gtin, lot, serial, domain=domain)
        if serial
        else digital_link.batch_uri(gtin, lot, domain=domain)
    )
    key = _signing_key(sign)
    if key:
        uri = signing.sign_uri(uri, key)
    if out.suffix.lower() == ".svg":
        out.write_text(render.render_svg(uri))
    elif out.suffix.lower() == ".png":
        render.render_png(uri, out, logo=logo)
    else:
        raise typer.BadParameter("output must end in .png or .svg", param_hint="-o")
    emit(
        {"uri": uri.split("#")[0], "signed": bool(key), "signed_uri": uri if key else None, "file": str(out)},
        f"wrote {out} for {uri}",
    )


@qr_app.command("sheet")
def qr_sheet(
    gtin: str,
    lot: str,
    serials: str = typer.Option(..., "--serials", help="Serial range or list, e.g. 1-1000 or A1,A2,5-9."),
    out: Path = typer.Option(..., "-o", "--output", help="A .pdf file, or a folder for one image per label."),
    sign: bool = typer.Option(False, "--sign"),
    domain: str = typer.Option(None, "--domain", help=DOMAIN_HELP, show_default=False),
    allow_local: bool = typer.Option(False, "--allow-local", help=ALLOW_LOCAL_HELP),
    image_format: str = typer.Option("png", "--format", help="png or svg, for a folder."),
) -> None:
    """Bulk labels: a printable A4 PDF or a folder of images."""
    from qr import sheet

    domain = _domain(domain, allow_local)
    fmt: Literal["pdf", "dir"] = "pdf" if out.suffix.lower() == ".pdf" else "dir"
    path = sheet.make_sheet(
        gtin,
        lot,
        serials,
        out,
        domain=domain,
        sign_key=_signing_key(sign),
        fmt=fmt,
        image_format=image_format,  # type: ignore[arg-type]
    )
    count = len(sheet.parse_serial_range(serials))
    emit({"labels": count, "output": str(path), "format": fmt}, f"wrote {count} labels to {path}")


@batch_app.command("units")
def batch_units(
    gtin: str,
    lot: str,
    serials: str = typer.Option(..., "--serials", help="Serial range or list, e.g. 1-1000."),
    location: str = typer.Option(None, "--location", help="GLN where the units were commissioned."),
) -> None:
    """Commission unit serials: one EPCIS event each, anchored under Merkle roots."""
    from qr import sheet
    from trace_api.services import units  # the importer's machinery: not for `batch show`, which shares this group

    result = units.commission_units(
        state().trace(),
        account=state().account("producer"),
        gtin=gtin,
        lot=lot,
        serials=sheet.parse_serial_range(serials),
        gln=location,
    )
    emit(
        result.model_dump(mode="json"),
        f"commissioned {result.serials} units of {gtin}/{lot} under {result.anchored_roots} root(s)",
    )


def verify(
    code: str = typer.Argument(..., help="A Digital Link URI, or an image file of the QR code."),
    rpc: str = typer.Option(None, "--rpc", help="JSON-RPC URL to verify against (default: TRACE_RPC_URL)."),
    offline: bool = typer.Option(False, "--offline", help="Check only the signature, against --producer."),
    producer: str = typer.Option(
        None, "--producer", help="Who is expected to have signed (offline): address, keystore or dev name."
    ),
) -> None:
    """Verify a product code against the chain itself: exit 0 genuine, 6 not verified (with the reason)."""
    from qr.decode import decode
    from trace_api.services import verify as verify_service

    uri = decode(Path(code)) if Path(code).is_file() else code
    verify_service.parse_code(uri)  # a malformed code is a one-line error, before any node is started
    if offline:
        if not producer:
            raise typer.BadParameter("--offline needs --producer ADDRESS", param_hint="--producer")
        verdict = verify_service.verify_offline(uri, producer=address_of(state().settings, producer))
    else:
        invocation = state()
        invocation.override(rpc_url=rpc)
        invocation.chain(autostart=invocation.settings.is_local)  # a remote chain is never started
        verdict = verify_service.verify_online(invocation.trace(), uri)
    emit(
        verdict.model_dump(mode="json"),
        "\n".join(("✓ " if c.ok else "✗ ") + f"{c.check}: {c.detail}" for c in verdict.checks),
    )
    verdict.raise_if_failed()


def register(app: typer.Typer) -> None:
    app.add_typer(qr_app, name="qr")
    app.command("verify")(verify)
