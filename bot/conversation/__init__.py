"""The conversation machinery: what flows in and out (events), the dispatcher, and reading typed text."""
