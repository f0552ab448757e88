"""A parsed YAML document that remembers where every node is, for located problems."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from arrears.domain.problems import Problem


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed YAML document with the position of every node, for error messages."""

    source: str
    root: yaml.Node

    def find(self, loc: tuple[int | str, ...]) -> yaml.Node:
        """The deepest node along ``loc`` (a Pydantic error location); unknown parts are skipped."""
        node = self.root
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                match = [(k, v) for k, v in node.value if k.value == part]
                if match:
                    node = match[0][1]
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
        return node

    def key_node(self, loc: tuple[int | str, ...]) -> yaml.Node:
        """The key node of the last part of ``loc`` (for unknown keys)."""
        parent = self.find(loc[:-1])
        if isinstance(parent, yaml.MappingNode):
            for key, _value in parent.value:
                if key.value == loc[-1]:
                    found: yaml.Node = key
                    return found
        return parent

    def problem(self, node: yaml.Node, message: str, column_offset: int = 0) -> Problem:
        mark = node.start_mark
        return Problem(self.source, mark.line + 1, str(mark.column + 1 + column_offset), message)
