"""Conformance tests of the local AWS: the EKS access-entry emulator, CloudTrail, faults."""
