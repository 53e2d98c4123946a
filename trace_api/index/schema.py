"""Tables of the index. SQLite by default, PostgreSQL through TRACE_DATABASE_URL.

Two kinds of rows:
- captured: what this tool was given (batch keys, EPCIS events with their full JSON, documents, proofs,
  API keys). They are never rolled back.
- chain: what the contracts' logs say, each row tagged with its block. The indexer rolls these back to the
  fork point when a reorg replaces blocks, and re-reads.
Hashes and addresses are stored as 0x-prefixed lowercase hex strings.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

HASH = String(66)
ADDRESS = String(42)

# ---- captured ----
batch_keys = Table(
    "batch_keys",
    metadata,
    Column("batch_id", HASH, primary_key=True),
    Column("gtin", String(14), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("metadata", Text, nullable=False, default="{}"),  # product, origin...: JSON, hashed on chain
    UniqueConstraint("gtin", "lot", name="uq_batch_keys_gtin_lot"),
)

epcis_events = Table(
    "epcis_events",
    metadata,
    Column("event_hash", HASH, primary_key=True),  # sha-256 of the CBV 2.0 pre-hash string
    Column("event_type", String(32), nullable=False),
    Column("biz_step", String(64)),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),  # the EPCIS 2.0 JSON-LD event
    Column("mode", String(8), nullable=False),  # "direct": recorded per event; "anchor": under a Merkle root
    Column("root", HASH),  # Merkle root the event was put under (mode anchor)
    Column("proof", Text),  # JSON list of 0x hashes
    Column("source", String(64), nullable=False, default=""),
    Column("created_seq", BigInteger, nullable=False),  # insertion order, for stable anchoring order
    # event hash algorithm of event_hash (trace_api.epcis.hashing): 1 for rows stored before algorithm 2 existed
    Column("hash_algorithm", SmallInteger, nullable=False, server_default="1"),
    # The account that captured the event: only it anchors or records it, and its verification counts only when
    # the chain names that account as the event's actor. "" in indexes made before attribution.
    Column("capturer", ADDRESS, nullable=False, default="", server_default=""),
    # Write-ahead: set while the transaction this event belongs to (derive:<batch id>, recall:<batch id>) is not
    # confirmed; such an event is neither anchored nor shown until recovery finds the transaction's effect on chain.
    Column("awaits", String(80)),
    Index("ix_epcis_events_pending", "mode", "root"),
    Index("ix_epcis_events_biz_step", "biz_step", "event_time"),
    Index("ix_epcis_events_time", "event_time"),
)

event_batches = Table(
    "event_batches",
    metadata,
    Column("batch_id", HASH, primary_key=True),
    Column("event_time", DateTime(timezone=True), primary_key=True),
    Column("event_hash", HASH, primary_key=True),
)

anchor_roots = Table(
    "anchor_roots",
    metadata,
    Column("root", HASH, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("meta_hash", HASH, nullable=False),
    Column("tx_hash", HASH),
    Column("status", String(12), nullable=False),  # built, sent, anchored
    # the capturer of its events, who alone sends it
    Column("anchorer", ADDRESS, nullable=False, default="", server_default=""),
)

documents = Table(
    "documents",
    metadata,
    Column("sha256", HASH, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(127), nullable=False),
    Column("private", Boolean, nullable=False),
    Column("recipients", Text, nullable=False, default="[]"),  # JSON: accounts the key is shared with
    # JSON list of the accounts that attached it: an event's document badge needs its actor among them
    Column("owners", Text, nullable=False, default="[]", server_default="[]"),
)

# Files of escrow trades (dispute reasons, evidence, trade documents): stored encrypted as private documents; the
# chain holds each one's SHA-256 in a DisputeOpened or EvidenceAdded log. A row is written before its transaction
# (tx_hash empty: pending) and completed from the log, so a file whose transaction landed is never lost.
trade_files = Table(
    "trade_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("escrow", ADDRESS, nullable=False),
    Column("trade_id", BigInteger, nullable=False),
    Column("sha256", HASH, nullable=False),
    Column("kind", String(32), nullable=False),  # reason, evidence, commercial-invoice, packing-list, ...
    Column("name", String(255), nullable=False),
    Column("sender", ADDRESS, nullable=False),
    Column("tx_hash", HASH, nullable=False, default="", server_default=""),  # "" until the log is seen
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_trade_files_trade", "escrow", "trade_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", HASH, primary_key=True),  # sha-256 of the key; the key itself is never stored
    Column("organisation", String(120), nullable=False),
    Column("account", String(120), nullable=False),  # dev account name or keystore name it signs with
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),  # NULL: does not expire
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
)

captures = Table(
    "captures",
    metadata,
    Column("capture_id", String(36), primary_key=True),
    Column("organisation", String(120), nullable=False),
    Column("status", String(16), nullable=False),  # accepted, running, done, failed
    Column("event_count", Integer, nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the account that signs its anchoring
    Column("account", ADDRESS, nullable=False, default="", server_default=""),
    Column("document", Text),  # its events (JSON) until it has ended: written before the 202, resumed after a crash
)

epcis_queries = Table(  # EPCIS 2.0 named queries (POST /queries)
    "epcis_queries",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("query", Text, nullable=False),  # JSON: the EPCIS query parameters
    Column("organisation", String(120), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", HASH, nullable=False),
    Column("serial", String(20), nullable=False, default=""),
    Column("place", String(64), nullable=False, default=""),
    Column("scanned_at", DateTime(timezone=True), nullable=False),
    Index("ix_scans_unit", "batch_id", "serial"),
)

organisations = Table(
    "organisations",
    metadata,
    Column("account", ADDRESS, primary_key=True),
    Column("profile", Text, nullable=False),  # canonical JSON; its SHA-256 is the hash the admin puts on chain
    Column("profile_hash", HASH, nullable=False),
    Column("status", String(12), nullable=False),  # pending (written ahead of the tx), set, revoked
    Column("tx_hash", HASH),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# ---- chain (from logs; rolled back on reorg) ----
chain_batches = Table(
    "chain_batches",
    metadata,
    Column("batch_id", HASH, primary_key=True),
    Column("producer", ADDRESS, nullable=False),
    Column("metadata_hash", HASH, nullable=False),
    Column("quantity", String(40), nullable=False),
    Column("uom", String(8), nullable=False),
    Column("derived", Boolean, nullable=False),
    Column("block_number", BigInteger, nullable=False, index=True),
    Column("tx_hash", HASH, nullable=False),
)

chain_lineage = Table(
    "chain_lineage",
    metadata,
    Column("child_id", HASH, primary_key=True),
    Column("parent_id", HASH, primary_key=True, index=True),
    Column("block_number", BigInteger, nullable=False, index=True),
)

chain_events = Table(
    "chain_events",
    metadata,
    Column("batch_id", HASH, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("step", Integer, nullable=False),
    Column("event_hash", HASH, nullable=False, index=True),
    Column("actor", ADDRESS, nullable=False),
    Column("block_number", BigInteger, nullable=False, index=True),
    Column("tx_hash", HASH, nullable=False),
)

chain_transfers = Table(
    "chain_transfers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", HASH, nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # shipped, custody
    Column("from_account", ADDRESS, nullable=False),
    Column("to_account", ADDRESS, nullable=False),
    Column("block_number", BigInteger, nullable=False, index=True),
)

chain_recalls = Table(
    "chain_recalls",
    metadata,
    Column("batch_id", HASH, primary_key=True),
    Column("actor", ADDRESS, nullable=False),
    Column("reason_hash", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False, index=True),
)

chain_roots = Table(
    "chain_roots",
    metadata,
    Column("root", HASH, primary_key=True),
    Column("anchorer", ADDRESS, primary_key=True),  # a root is anchored per anchorer: copies never collide
    Column("count", Integer, nullable=False),
    Column("meta_hash", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False, index=True),
)

blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", HASH, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
)

schema_state = Table(  # what the schema was last brought up to: a start finds it current with one query
    "schema_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
)

CHAIN_TABLES = (chain_batches, chain_lineage, chain_events, chain_transfers, chain_recalls, chain_roots)
