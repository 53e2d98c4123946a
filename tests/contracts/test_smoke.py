def test_deploy(TraceRegistry, accounts):
    reg = TraceRegistry.deploy(accounts[0], {"from": accounts[0]})
    assert reg.hasRole(reg.DEFAULT_ADMIN_ROLE(), accounts[0])
