"""Dependencies shared by the routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from trace_api.chain.client import Chain, connect
from trace_api.config import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_chain(request: Request) -> Chain:
    """The app's chain connection, made on first use and kept; a node that was down is retried each time."""
    chain: Chain | None = getattr(request.app.state, "chain", None)
    if chain is None:
        chain = connect(request.app.state.settings, autostart=False)
        request.app.state.chain = chain
    return chain


ChainDep = Annotated[Chain, Depends(get_chain)]
