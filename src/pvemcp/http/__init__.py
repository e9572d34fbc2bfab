"""Serving MCP over Streamable HTTP: hardened, authenticated, observable; imported only for --transport http."""
