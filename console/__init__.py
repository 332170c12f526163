"""The console: what the MASH screening team, practitioners and auditors use in a browser.

``accounts``: people and their roles (Argon2id password hashes); ``web``: the pages
(Jinja2, server-rendered, no JavaScript needed), sign-in, sessions and CSRF.
"""
