"""Developer tools: benchmarks, the publish bench and the stress/soak/fuzz/fault drills.

May import every other room; nothing in the product imports it (the ``bench`` and ``stress``
subcommands are its only door, see docs/ARCHITECTURE.md).
"""
