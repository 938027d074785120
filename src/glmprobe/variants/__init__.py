"""Variant-effect scoring: readers, genome checks, windows, zero-shot and supervised scores, metrics."""
