# expect: compile
# `import builtins` is refused when the function is saved.
import builtins
def handler(event, context):
    return 1
