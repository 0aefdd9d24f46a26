"""The JSON of Twilio's resources, field for field as the API reference shows them."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from .auth import API_VERSION, account_path
from .state import Account, ApiKey, Message, MessagingService, PhoneNumber


def rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment)


def message_resource(message: Message) -> dict[str, Any]:
    uri = f"{account_path(message.account_sid)}/Messages/{message.sid}"
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_updated),
        "direction": message.direction,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": str(len(message.media_urls)),
        "num_segments": str(message.num_segments),
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def number_resource(number: PhoneNumber) -> dict[str, Any]:
    uri = f"{account_path(number.account_sid)}/IncomingPhoneNumbers/{number.sid}"
    return {
        "account_sid": number.account_sid,
        "address_requirements": "none",
        "address_sid": None,
        "api_version": API_VERSION,
        "beta": False,
        "bundle_sid": None,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "date_created": rfc2822(number.date_created),
        "date_updated": rfc2822(number.date_updated),
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "emergency_status": "Active",
        "friendly_name": number.friendly_name,
        "identity_sid": None,
        "origin": "twilio",
        "phone_number": number.phone_number,
        "sid": number.sid,
        "sms_application_sid": "",
        "sms_fallback_method": number.sms_fallback_method,
        "sms_fallback_url": number.sms_fallback_url,
        "sms_method": number.sms_method,
        "sms_url": number.sms_url,
        "status": "in-use",
        "status_callback": number.status_callback,
        "status_callback_method": number.status_callback_method,
        "subresource_uris": {"assigned_add_ons": f"{uri}/AssignedAddOns.json"},
        "trunk_sid": None,
        "uri": f"{uri}.json",
        "voice_application_sid": None,
        "voice_caller_id_lookup": False,
        "voice_fallback_method": number.voice_fallback_method,
        "voice_fallback_url": number.voice_fallback_url,
        "voice_method": number.voice_method,
        "voice_receive_mode": "voice",
        "voice_url": number.voice_url,
    }


def account_resource(account: Account) -> dict[str, Any]:
    uri = account_path(account.sid)
    return {
        "auth_token": account.auth_token,
        "date_created": rfc2822(account.date_created),
        "date_updated": rfc2822(account.date_created),
        "friendly_name": account.friendly_name or f"Sandbox account {account.sid[-6:]}",
        "owner_account_sid": account.sid,
        "sid": account.sid,
        "status": "active",
        "subresource_uris": {
            "incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json",
            "messages": f"{uri}/Messages.json",
            "keys": f"{uri}/Keys.json",
        },
        "type": "Full",
        "uri": f"{uri}.json",
    }


def new_key_resource(key: ApiKey) -> dict[str, Any]:
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_created),
        "secret": key.secret,
    }


def service_resource(service: MessagingService, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/v1/Services/{service.sid}"
    return {
        "account_sid": service.account_sid,
        "sid": service.sid,
        "friendly_name": service.friendly_name,
        "date_created": service.date_created.isoformat().replace("+00:00", "Z"),
        "date_updated": service.date_updated.isoformat().replace("+00:00", "Z"),
        "inbound_request_url": service.inbound_request_url or None,
        "inbound_method": service.inbound_method,
        "fallback_url": service.fallback_url or None,
        "fallback_method": service.fallback_method,
        "status_callback": service.status_callback or None,
        "use_inbound_webhook_on_number": service.use_inbound_webhook_on_number,
        "sticky_sender": True,
        "mms_converter": True,
        "smart_encoding": True,
        "fallback_to_long_code": True,
        "area_code_geomatch": True,
        "validity_period": 36000,
        "synchronous_validation": True,
        "scan_message_content": "inherit",
        "usecase": "undeclared",
        "us_app_to_person_registered": False,
        "url": url,
        "links": {"phone_numbers": f"{url}/PhoneNumbers"},
    }
