"""The index: a SQLAlchemy Core database of what we captured off chain and what the chain's logs say."""
