"""Jobs: the daily work that reads the store, calls the pure engine and writes back (the cycle
now; dispatch later). They hold no business rules of their own."""
