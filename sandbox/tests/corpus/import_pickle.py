# expect: compile
# `import pickle` is refused when the function is saved.
import pickle
def handler(event, context):
    return 1
