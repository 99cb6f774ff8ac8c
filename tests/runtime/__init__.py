"""Tests of the local Lambda runtime (local/runtime): handlers run by SQS pollers, the scheduler, the API."""
