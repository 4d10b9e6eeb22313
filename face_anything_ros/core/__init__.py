"""Pure geometry and formats every layer shares: face template, crop geometry, sequence-folder format.

Imports nothing else of the package (docs/ARCHITECTURE.md, "Layers").
"""
