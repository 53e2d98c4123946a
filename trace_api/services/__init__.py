"""Services: what both the HTTP API and the CLI call. Functions take keyword-only arguments."""
