"""The one YAML loader for parameter files and ``-p`` overrides: safe, no aliases, no duplicate keys.

``yaml.safe_load`` builds no objects but still expands anchors/aliases: ten nested aliases in a
few hundred bytes expand to ~10^9 nodes (a "billion laughs" file stalled the config loader for
more than a minute). Profiles need no aliases, so the loader refuses them at the first ``*name``.
A key written twice in one mapping is refused too (PyYAML keeps the last silently, so a
profile could say two things and run one of them).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode


class _NoAliasSafeLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} refused (YAML aliases are not allowed in parameters)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if duplicate:
                raise ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Parse one YAML document like ``yaml.safe_load``, refusing aliases and duplicate keys.

    Raises:
        yaml.YAMLError: with ``problem`` and ``problem_mark`` (line) set, as PyYAML's own errors.
    """
    loader = _NoAliasSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
