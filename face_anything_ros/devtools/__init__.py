"""Developer tools: benchmarks and drills; nothing in the product imports them."""
