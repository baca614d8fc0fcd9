"""The trivia engine: game rules, actor messages and the actors of every process."""
