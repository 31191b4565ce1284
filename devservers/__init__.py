"""Local stand-ins for outside servers (a CardDAV mailbox), for tests, benchmarks and the demo.

Product code never imports this package.
"""
