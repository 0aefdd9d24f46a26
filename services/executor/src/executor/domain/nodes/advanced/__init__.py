"""Advanced node kinds."""
