# expect: compile
# `import gc` is refused when the function is saved.
import gc
def handler(event, context):
    return 1
