# expect: compile
# `import subprocess` is refused when the function is saved.
import subprocess
def handler(event, context):
    return 1
