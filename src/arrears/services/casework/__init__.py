"""The collectors' casework: promises, holds, contacts, approvals, tasks, queues, the
worklist, the account page and the explain view."""
