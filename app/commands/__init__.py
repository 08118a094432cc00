"""What cli.py offers besides a plain sync: demo, discover, check, status, console output."""
