# expect: compile
# `import importlib` is refused when the function is saved.
import importlib
def handler(event, context):
    return 1
