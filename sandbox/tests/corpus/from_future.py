# expect: compile
# `__future__` is not on the list.
from __future__ import annotations
def handler(event, context):
    return 1
