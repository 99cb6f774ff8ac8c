"""The pure core: model, policies, principals, the baseline document, the planner, the safety rules, and
how plans are described. No boto3, no clock, no environment, no I/O: plain data in, plain data out."""
