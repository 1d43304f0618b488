"""Real servers the tests talk to, all on 127.0.0.1."""
