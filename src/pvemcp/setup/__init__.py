"""`pvemcp setup`: the questions' answers checked against the cluster (steps), what would be written (plan),
and the MCP clients whose configuration files it writes into (clients)."""
