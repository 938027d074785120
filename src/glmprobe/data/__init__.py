"""Datasets: readers, the canonical dataset file, one-hot, splits, the synthetic benchmark."""
