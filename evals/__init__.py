"""The eval harness and its suites."""
