"""People: accounts, groups, API keys, sessions, collections, feedback and the audit log.
Plain Python over the app database; the service decides who is asking with these."""
