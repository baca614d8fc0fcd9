"""Data definitions: Peewee models, migrations, the question bank and the event codec."""
