# expect: compile
# `import shutil` is refused when the function is saved.
import shutil
def handler(event, context):
    return 1
