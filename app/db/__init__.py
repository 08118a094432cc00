"""The local database: connecting, schema checks, models, the run lock and run history."""
