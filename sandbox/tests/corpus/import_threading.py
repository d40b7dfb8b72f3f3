# expect: compile
# `import threading` is refused when the function is saved.
import threading
def handler(event, context):
    return 1
