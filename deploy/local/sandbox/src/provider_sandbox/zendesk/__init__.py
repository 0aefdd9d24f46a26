"""The sandbox's Zendesk Support API."""
