# expect: raised NameError
# `input` does not exist: no standard input to block on.
def handler(event, context):
    return input()
