"""The staff dashboard in the browser: sign-in by one-time link, the summary's funnel, the regions and what the bot
did not understand, by role.

One module per page (summary, regions, misses), one for signing in and sessions (auth), one for the application
and its routes (app), the charts' geometry (charts), and what the pages share (rendering); templates and the
stylesheet beside them.
"""
