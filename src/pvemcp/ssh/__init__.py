"""The SSH channel: what the Proxmox API cannot do (`pct exec`, node diagnostics), over asyncssh."""
