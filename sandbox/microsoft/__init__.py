"""A local stand-in for Microsoft 365: the identity platform (v2.0) and a Microsoft Graph
v1.0 subset (users, contact folders, contacts, delta, ``$batch``) with Outlook's throttling.

Started as ``python -m sandbox.microsoft``; the product only ever talks to it over HTTP(S),
so nothing here is imported by product code.
"""
