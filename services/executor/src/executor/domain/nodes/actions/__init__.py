"""Actions node kinds."""
