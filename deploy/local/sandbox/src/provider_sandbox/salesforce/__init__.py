"""The sandbox's Salesforce REST API."""
