# expect: raised NameError
# `exec` does not exist.
def handler(event, context):
    exec('import os')
    return 1
