# expect: raised NameError
# `exit` does not exist, so the process cannot be stopped.
def handler(event, context):
    exit(1)
    return 1
