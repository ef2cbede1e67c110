"""Domain logic: (context, arguments) → rows. Every read goes through auth.scopes."""
