"""`pvemcp doctor`: check a configuration from the settings to an in-process MCP call.

Checks run in order — config, reach, version, auth, privileges, inventory, ssh, clients, selftest —
and each ends GREEN, RED (with a one-line fix) or SKIP (with why). The exit code is 0 only when none
is RED, so scripts and CI can rely on it. Modules: model (verdicts, shared context), connection
(config, reach, version, auth), access (privileges), cluster (inventory, ssh, selftest),
client_files (clients), runner (order, table, JSON). Nothing is imported here, so that the CLI
stays quick to start.
"""
