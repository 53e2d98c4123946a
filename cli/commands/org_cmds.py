"""`trace org register|show|list|revoke`: organisations behind accounts, vouched for by the registry admin."""

from pathlib import Path

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.table import Table

from cli.context import emit, state
from trace_api.errors import ValidationError
from trace_api.services import orgs

org_app = typer.Typer(
    help="Organisations behind accounts (name, GLNs, country), vouched for on chain.", no_args_is_help=True
)


def _mark(org: orgs.Organisation) -> str:
    return "✓ verified organisation" if org.verified else f"✗ not verified ({org.status})"


def _table(found: list[orgs.Organisation]) -> Table:
    table = Table()
    for column in ("account", "organisation", "country", "GLNs", "website", "on chain"):
        table.add_column(column, no_wrap=column == "account")
    for org in found:
        p = org.profile
        table.add_row(org.account, p.legal_name, p.country, ", ".join(p.glns) or "-", p.website or "-", _mark(org))
    return table


@org_app.command("register")
def org_register(
    account: str = typer.Argument(..., help="The organisation's account: address, keystore or dev name."),
    name: str = typer.Option(..., "--name", help="Legal name, e.g. 'Rotterdam Roasters BV'."),
    country: str = typer.Option(..., "--country", help="ISO 3166-1 alpha-2 country code, e.g. NL."),
    gln: list[str] = typer.Option([], "--gln", help="GLN of one of its sites; repeat for several."),
    website: str = typer.Option(None, "--website", help="https:// address of its website."),
    logo: Path = typer.Option(None, "--logo", help="Logo image, stored and hashed into the profile."),
) -> None:
    """Vouch that ACCOUNT belongs to an organisation (signed by a registry admin); replaces an earlier profile."""
    try:
        profile = orgs.OrgProfile(legal_name=name, country=country, glns=tuple(gln), website=website)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    org = orgs.register(state().trace(), signer=state().account("admin"), account=account, profile=profile, logo=logo)
    emit(
        org.model_dump(mode="json"),
        f"{org.account} is {org.profile.legal_name} ({org.profile.country}), "
        f"profile {org.profile_hash[:10]}… version {org.version}: {_mark(org)}",
    )


@org_app.command("show")
def show(account: str = typer.Argument(..., help="Address, keystore or dev name.")) -> None:
    """Show an account's organisation and whether the chain vouches for it."""
    org = orgs.show(state().trace(), account=account)
    emit(org.model_dump(mode="json"), _table([org]))


@org_app.command("list")
def list_() -> None:
    """Every organisation profile this installation holds, checked against the chain."""
    found = orgs.list_all(state().trace())
    emit([o.model_dump(mode="json") for o in found], _table(found))


@org_app.command("revoke")
def revoke(account: str = typer.Argument(..., help="Address, keystore or dev name.")) -> None:
    """Withdraw the admin's word for an account's organisation (signed by a registry admin)."""
    org = orgs.revoke(state().trace(), signer=state().account("admin"), account=account)
    emit(org.model_dump(mode="json"), f"{org.account} is no longer vouched for as {org.profile.legal_name}")


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
