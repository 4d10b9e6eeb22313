"""Measurement and drill tools for developers; the product never imports this package."""
