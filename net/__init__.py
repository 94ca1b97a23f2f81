"""Networks: ST-GCN, its two-stream variant and the skeleton graphs they convolve over."""
