"""A local stand-in for SuperOffice Online: SuperID login, the tenant REST API and archives.

It runs as its own process (``python -m sandbox``) and is used over HTTP only; product code
never imports it.
"""
