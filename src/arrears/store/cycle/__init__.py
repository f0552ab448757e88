"""The daily cycle's store side: the snapshot read, the decisions' commit, the worklist."""
