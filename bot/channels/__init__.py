"""Channel adapters: each platform's messages become Inbounds, and Replies become that platform's messages."""
