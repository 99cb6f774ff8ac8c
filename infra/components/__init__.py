"""Single-purpose constructs, one per part of the runtime they deploy (see the README, Deploy)."""
