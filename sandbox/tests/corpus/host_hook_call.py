# expect: raised NameError
# Guessing a host hook name gets nothing.
def handler(event, context):
    return _sluice_host_exec('id')
