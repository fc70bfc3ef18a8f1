"""The domain: async verb_noun functions that take the session, called by the handlers, channels and workers."""
