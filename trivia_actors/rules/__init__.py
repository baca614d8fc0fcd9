"""Game rules as plain code: scoring, answer judging, the game flow."""
