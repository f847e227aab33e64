"""One module per route; each builds its page from components."""
