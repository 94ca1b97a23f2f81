"""Graph definitions and graph-convolution building blocks."""
