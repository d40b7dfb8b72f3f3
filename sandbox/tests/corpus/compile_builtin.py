# expect: raised NameError
# `compile` does not exist.
def handler(event, context):
    return compile('1', 'x', 'eval')
