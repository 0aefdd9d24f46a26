"""HubSpot's CRM v3 objects API (contacts, deals, tickets) and its ten-second rate limit."""
