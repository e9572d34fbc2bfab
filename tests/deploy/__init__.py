"""The ways to deploy pvemcp (deploy/): the OCI image, the systemd unit, the nginx rules."""
