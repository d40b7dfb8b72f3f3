# expect: compile
# `import signal` is refused when the function is saved.
import signal
def handler(event, context):
    return 1
