# expect: notjson
# JSON keys are strings.
def handler(event, context):
    return {1: 'one'}
