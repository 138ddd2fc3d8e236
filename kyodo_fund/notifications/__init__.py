"""Mail outbox: messages are stored in the transaction that causes them and sent after the
commit by a retrying sender (right after the request, and by the scheduler's mail job)."""
