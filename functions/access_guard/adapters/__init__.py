"""AWS adapters: one module per service we talk to (SSM baselines, EKS reads and writes, IAM, ...), made
with the cached client factory in `clients`."""
