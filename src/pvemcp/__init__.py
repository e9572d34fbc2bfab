"""pvemcp: an MCP server for Proxmox VE."""

__version__ = "0.1.0"
