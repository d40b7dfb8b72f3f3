# expect: raised PermissionError
# The refusal is uncatchable: `except` does not turn it into a success.
def handler(event, context):
    try:
        return open('/etc/shadow').read()
    except BaseException:
        return 'caught'
