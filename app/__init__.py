"""bitrix-sync: one-way sync of Bitrix24 directories into a local SQL database."""
