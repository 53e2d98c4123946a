"""trace_api: supply-chain traceability and trade settlement on an EVM chain."""

__version__ = "0.1.0"
