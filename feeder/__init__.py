"""Datasets and the on-disk data contract: (N, C, T, V, M) arrays plus (sample_names, labels)."""
