"""The Telegram side: python-telegram-bot application, handlers, rendering, telebot entry point."""
