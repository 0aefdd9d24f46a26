"""Twilio's REST API (2010-04-01: Accounts, IncomingPhoneNumbers, Messages, Calls; Messaging
Services) as the official SDK calls it, and Twilio's side of the webhooks: incoming messages to
a number's SmsUrl, incoming calls to its VoiceUrl (their TwiML played), status callbacks, signed
as Twilio signs."""
