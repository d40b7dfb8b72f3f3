# expect: raised PermissionError
# Writing a file is refused the same way.
def handler(event, context):
    open('/tmp/sluice-pwned', 'w').write('x')
    return 1
