"""`trace token balance|transfer|mint`: a wallet's stablecoins (and native coin)."""

import typer

from cli.context import emit, state
from trace_api.services import devchain, wallets

token_app = typer.Typer(
    help="Token balances and transfers (USDC, EURC, a token address, or ETH).", no_args_is_help=True
)
TOKEN = typer.Option(..., "--token", help="USDC, EURC (deployment symbols), a token address, or ETH.")


@token_app.command("balance")
def balance(account: str = typer.Argument(..., help="Address, keystore or dev name."), token: str = TOKEN) -> None:
    """An account's balance of one token."""
    found = wallets.balance(state().trace(), account=account, token=token)
    emit(found.model_dump(mode="json"), f"{found.name or found.account} holds {found.amount} {found.token}")


@token_app.command("transfer")
def transfer(
    to: str = typer.Argument(..., help="Recipient: address, keystore or dev name."),
    amount: str = typer.Argument(..., help="In token units, e.g. 250.75."),
    token: str = TOKEN,
) -> None:
    """Send tokens from the signer (`--as`) to an account."""
    done = wallets.transfer(state().trace(), signer=state().account("buyer"), to=to, amount=amount, token=token)
    emit(
        done.model_dump(mode="json"),
        f"sent {done.amount} {done.token} to {done.to} (tx {done.tx_hash}); "
        f"it now holds {done.balance_after} {done.token}",
    )


@token_app.command("mint")
def mint(
    to: str = typer.Argument(..., help="Recipient: address, keystore or dev name."),
    amount: str = typer.Argument(..., help="In token units, e.g. 10000."),
    token: str = TOKEN,
) -> None:
    """Mint a mock stablecoin (local chain only; the deployer owns the mocks)."""
    ctx = state().trace()
    devchain.require_dev_chain(ctx.chain, "trace token mint")  # before asking for a signer
    done = wallets.mint(ctx, signer=state().account("admin"), to=to, amount=amount, token=token)
    emit(
        done.model_dump(mode="json"),
        f"minted {done.amount} {done.token} to {done.to}; it now holds {done.balance_after} {done.token}",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
