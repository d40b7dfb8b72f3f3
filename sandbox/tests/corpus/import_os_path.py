# expect: compile
# A dotted import of a refused package.
import os.path
def handler(event, context):
    return 1
