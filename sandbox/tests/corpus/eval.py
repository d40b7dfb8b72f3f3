# expect: raised NameError
# `eval` does not exist.
def handler(event, context):
    return eval('1 + 1')
