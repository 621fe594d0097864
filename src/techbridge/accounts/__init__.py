"""Accounts (账户): users, roles, sessions, API tokens and the audit log (审计日志)."""
