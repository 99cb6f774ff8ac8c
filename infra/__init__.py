"""The CDK app that deploys EKS Access Guard: one service stack per region, one IAM-event forwarder."""
