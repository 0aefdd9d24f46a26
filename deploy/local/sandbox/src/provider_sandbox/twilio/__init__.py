"""Twilio's Messaging REST API (2010-04-01) as the official SDK calls it, and Twilio's side of
the webhooks: incoming messages to a number's SmsUrl, status callbacks, signed as Twilio signs."""
