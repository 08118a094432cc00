"""The console's texts by subject, both languages each; app.messages merges them into CATALOG."""
