# expect: compile
# `import os` is refused when the function is saved.
import os
def handler(event, context):
    return 1
