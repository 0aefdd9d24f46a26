"""The sandbox's Jira Cloud REST API v3."""
