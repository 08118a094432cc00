"""Service mode: the cron-driven loop and signal handling."""
