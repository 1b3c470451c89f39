"""Operators' tools: redrive the failure queue, replay stored or quarantined mail."""
