"""The web server: health, the WhatsApp webhook and Telegram's in webhook mode."""
