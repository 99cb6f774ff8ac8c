"""Use cases that combine the core and the adapters: reconcile (and, on top of it, remediate, sweep and
break glass). Every EKS write of the service goes through `reconcile`, and so through `core.safety`."""
