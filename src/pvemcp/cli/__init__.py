"""The `pvemcp` command line."""
