# expect: compile
# `import io` is refused when the function is saved.
import io
def handler(event, context):
    return 1
