# expect: compile
# `import marshal` is refused when the function is saved.
import marshal
def handler(event, context):
    return 1
