"""The staff dashboard in the browser: sign-in by one-time link, the summary's funnel and the regions, by role.

One module per page (summary, regions), one for signing in and sessions (auth), one for the application and
its routes (app), and what the pages share (rendering); templates and the stylesheet beside them.
"""
