"""Talking to Bitrix24: the webhook client, rate limits and operating budget, list reading."""
