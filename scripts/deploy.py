"""`brownie run scripts/deploy.py --network anvil`: the same deployment `trace deploy` makes, through the same
code path, written to the same record (TRACE_HOME/deployments/<chainId>.json)."""

from urllib.parse import urlparse

from brownie import web3

from trace_api.chain.accounts import dev_account
from trace_api.chain.client import connect
from trace_api.config import load_settings
from trace_api.services.deploy import deploy


def main(force: bool = False) -> None:
    url = urlparse(web3.provider.endpoint_uri)
    if url.hostname in ("127.0.0.1", "localhost") and url.port:
        # brownie's own anvil: the embedded local chain, on brownie's port
        settings = load_settings(node_port=url.port, chain_id=web3.eth.chain_id)
    else:
        settings = load_settings(rpc_url=web3.provider.endpoint_uri, chain_id=web3.eth.chain_id)
    chain = connect(settings, autostart=False)
    result = deploy(chain=chain, account=dev_account("admin"), force=force)
    record = result.deployment
    print(("deployed" if result.deployed else "already deployed") + f" on chain {record.chain_id}:")
    for name, item in record.contracts.items():
        print(f"  {name:22} {item.address}  block {item.block}")
