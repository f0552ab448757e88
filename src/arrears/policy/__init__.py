"""Collection policy as code.

For now the condition language; the policy file and its checker come with the strategy engine.
"""
