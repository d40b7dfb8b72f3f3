# expect: compile
# `import pathlib` is refused when the function is saved.
import pathlib
def handler(event, context):
    return 1
