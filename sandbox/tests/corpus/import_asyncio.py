# expect: compile
# `import asyncio` is refused when the function is saved.
import asyncio
def handler(event, context):
    return 1
