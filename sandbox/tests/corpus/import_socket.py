# expect: compile
# `import socket` is refused when the function is saved.
import socket
def handler(event, context):
    return 1
