"""The Proxmox VE REST channel: client, wire quirks, errors and task identifiers."""
