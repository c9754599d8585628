"""Channels over the answering service: the command line (composition root), web and Telegram."""
