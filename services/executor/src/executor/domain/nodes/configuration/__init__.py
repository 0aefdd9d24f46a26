"""Configuration node kinds."""
