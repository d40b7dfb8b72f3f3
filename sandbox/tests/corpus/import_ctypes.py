# expect: compile
# `import ctypes` is refused when the function is saved.
import ctypes
def handler(event, context):
    return 1
