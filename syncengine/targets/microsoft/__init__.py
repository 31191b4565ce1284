"""Microsoft 365: contacts written into an Outlook contact folder over Microsoft Graph v1.0.

identity.py gets tokens (MSAL), graph.py speaks HTTP to Graph, budget.py keeps Outlook's
per-mailbox limits across workers, contacts.py maps a card to a Graph contact, and
target.py is the Target the engine uses.
"""
