"""The scoreboard has no parameters beyond profile (which runs to collect), device and seed."""
DOMAINS = {}
COLLECTS = True     # reads every other chapter's results: runs after all of them
