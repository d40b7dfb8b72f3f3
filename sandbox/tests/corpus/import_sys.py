# expect: compile
# `import sys` is refused when the function is saved.
import sys
def handler(event, context):
    return 1
