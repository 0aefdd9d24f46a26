"""Integrations node kinds."""
