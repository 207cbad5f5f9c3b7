"""The scoreboard has no parameters beyond profile (which runs to collect), device and seed."""
DOMAINS = {}
