"""Chain plumbing: compiler bridge, local node, client, transaction sender, revert decoding."""
