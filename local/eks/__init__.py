"""EKS access-entry emulator (being built)."""
