"""SendGrid's v3 Mail Send, its Event Webhook (signed as SendGrid signs) and Inbound Parse."""
