# expect: raised NameError
# There is no `__builtins__` to reach the real import through.
def handler(event, context):
    return __builtins__['__import__']('os')
