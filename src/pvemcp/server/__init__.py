"""The MCP side: which tools a caller sees, and the one path every call takes."""
