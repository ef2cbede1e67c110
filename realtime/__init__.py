"""PostgreSQL LISTEN/NOTIFY for this process: see listener.py."""
