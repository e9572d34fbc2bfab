"""Proxmox VE's own permission facts, as plain data: each endpoint's rule and the built-in roles.

They describe Proxmox, not the simulator, so they import nothing else of pvesim: the simulator enforces
them, and other tools (pvemcp's privilege doctor and bootstrap) read the same table instead of a copy.
"""
