"""The runner: scheduler loop, state table, executors."""
