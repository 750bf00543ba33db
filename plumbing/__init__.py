"""Shared plumbing: settings, the Temporal client, telemetry and the Temporal binaries.

The lowest layer beside `policies/`: it imports nothing of ours, so every other package may use it.
"""
