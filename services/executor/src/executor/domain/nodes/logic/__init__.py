"""Logic node kinds."""
