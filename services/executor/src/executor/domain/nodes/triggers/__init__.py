"""Triggers node kinds."""
