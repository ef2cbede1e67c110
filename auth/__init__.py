"""Passwords, tokens, sessions, sign-in limits, the viewer (Principal) and row rules (scopes)."""
